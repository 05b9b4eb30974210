//! Going on in a new invocation when this one is about to hit Lambda's 15-minute limit:
//! the function invokes itself asynchronously (InvocationType=Event) with a continuation
//! event carrying the run's state. Needs `lambda:InvokeFunction` on itself.

use std::future::Future;
use std::sync::Mutex;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde::{Deserialize, Serialize};

use crate::run::RunState;

/// The payload of a continuation invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinuationEvent {
    pub continuation: RunState,
}

pub trait Continue: Send + Sync {
    fn continue_run(&self, state: &RunState) -> impl Future<Output = Result<(), String>> + Send;
}

/// Invokes `function` (this function's ARN, from the invocation context) asynchronously.
pub struct SelfInvoke {
    pub client: aws_sdk_lambda::Client,
    pub function: String,
}

impl Continue for SelfInvoke {
    async fn continue_run(&self, state: &RunState) -> Result<(), String> {
        let payload = serde_json::to_vec(&ContinuationEvent {
            continuation: state.clone(),
        })
        .map_err(|e| e.to_string())?;
        self.client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "invoking {} to continue the run failed: {}",
                    self.function,
                    aws_sdk_lambda::error::DisplayErrorContext(&e)
                )
            })?;
        Ok(())
    }
}

/// Records continuation events instead of sending them, for tests (which then deliver
/// them, like Lambda would).
#[derive(Debug, Default)]
pub struct RecordedContinuations(pub Mutex<Vec<ContinuationEvent>>);

impl Continue for RecordedContinuations {
    async fn continue_run(&self, state: &RunState) -> Result<(), String> {
        self.0.lock().unwrap().push(ContinuationEvent {
            continuation: state.clone(),
        });
        Ok(())
    }
}
