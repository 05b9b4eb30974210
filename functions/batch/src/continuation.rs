//! Going on in a new invocation when this one is about to hit Lambda's 15-minute limit:
//! the function invokes itself asynchronously (InvocationType=Event) with a continuation
//! event carrying the run's state. Needs `lambda:InvokeFunction` on itself.

use std::future::Future;

use serde::{Deserialize, Serialize};
use store::invoke::AsyncInvoke;
use store::StoreError;

use crate::run::RunState;

/// The payload of a continuation invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinuationEvent {
    pub continuation: RunState,
}

pub trait Continue: Send + Sync {
    fn continue_run(&self, state: &RunState)
        -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Invokes `function` (this function's ARN, from the invocation context) asynchronously.
pub struct SelfInvoke<'a, I> {
    pub invoker: &'a I,
    pub function: String,
}

impl<I: AsyncInvoke> Continue for SelfInvoke<'_, I> {
    async fn continue_run(&self, state: &RunState) -> Result<(), StoreError> {
        let payload = serde_json::to_vec(&ContinuationEvent {
            continuation: state.clone(),
        })
        .map_err(|e| StoreError::refused(format!("the run state cannot be serialized: {e}")))?;
        self.invoker.invoke_async(&self.function, payload).await
    }
}
