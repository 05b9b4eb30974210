//! Shared by the end-to-end tests: the moto server (the test command's, or one started for
//! this process), and resource names that never collide between tests running in parallel.
//! Each test that needs moto starts with `moto_or_skip!()`.

use testkit::stack::Clients;

pub use testkit::moto::unique_name as unique;
pub use testkit::{moto_or_skip, venv_tool_or_skip};

/// Clients of the process's moto server.
pub async fn clients() -> Clients {
    Clients::for_endpoint(&endpoint()).await
}

pub fn endpoint() -> String {
    testkit::moto::test_endpoint().expect("the test checks for moto first (moto_or_skip!)")
}

/// The AWS clients the functions build, pointed at moto: the function's retry policy,
/// with its time limits five times longer. moto is one Python process shared by every
/// test: on a loaded CI machine a Scan page of a 10,000-row table has taken over the
/// batch's 30 s per attempt, and a timed-out attempt keeps moto busy while
/// its retry adds to the load, until the whole call runs out. These tests are about what
/// the functions write, not about AWS's latency; the limits themselves are tested with
/// the production policy in the `*_faults_on_moto` modules of `it/`.
pub async fn function_clients(policy: aws_adapter::CallPolicy) -> aws_adapter::AwsClients {
    let config = testkit::moto::sdk_config(&endpoint()).await;
    let policy = aws_adapter::CallPolicy {
        attempt_timeout: policy.attempt_timeout * 5,
        operation_timeout: policy.operation_timeout * 5,
        ..policy
    };
    aws_adapter::AwsClients::new(&config, policy)
}
