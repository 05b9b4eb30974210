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

/// The AWS clients the functions build, pointed at moto.
pub async fn function_clients(policy: aws_adapter::CallPolicy) -> aws_adapter::AwsClients {
    let config = testkit::moto::sdk_config(&endpoint()).await;
    aws_adapter::AwsClients::new(&config, policy)
}
