//! Starting a night's run as a Step Functions execution. The execution is named after the
//! run, and Step Functions refuses a second execution of one name: a repeated delivery of
//! the same night's event starts nothing.

use aws_sdk_sfn::error::ProvideErrorMetadata;
use store::orchestrator::{Orchestrator, Started};
use store::StoreError;

use crate::errors::store_error;

pub struct StepFunctionsRuns {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl StepFunctionsRuns {
    pub fn new(client: aws_sdk_sfn::Client, state_machine_arn: impl Into<String>) -> Self {
        StepFunctionsRuns {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }
}

impl Orchestrator for StepFunctionsRuns {
    async fn start_run(&self, name: &str, input: String) -> Result<Started, StoreError> {
        let sent = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await;
        match sent {
            Ok(out) => Ok(Started {
                execution: out.execution_arn,
                already_started: false,
            }),
            // A Standard workflow answers a repeated start of a running execution with the
            // same input with success, and any other repeat with this error.
            Err(e) if e.code() == Some("ExecutionAlreadyExists") => Ok(Started {
                execution: format!("{}:{name}", self.execution_prefix()),
                already_started: true,
            }),
            Err(e) => Err(store_error(
                &format!("StartExecution {name} of {}", self.state_machine_arn),
                e,
            )),
        }
    }
}

impl StepFunctionsRuns {
    /// `arn:...:execution:<machine>`: an execution's ARN is this plus `:<name>`.
    fn execution_prefix(&self) -> String {
        self.state_machine_arn
            .replacen(":stateMachine:", ":execution:", 1)
    }
}
