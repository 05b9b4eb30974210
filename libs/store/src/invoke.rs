//! Handing work to a new invocation of a function, asynchronously (Lambda's
//! InvocationType=Event): how a run goes on past one invocation's time limit.

use std::future::Future;
use std::sync::Mutex;

use crate::StoreError;

pub trait AsyncInvoke: Send + Sync {
    /// Queues an invocation of `function` with `payload`; returns once it is accepted.
    fn invoke_async(
        &self,
        function: &str,
        payload: Vec<u8>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Records invocations instead of making them, for tests (which then deliver them, as
/// Lambda would).
#[derive(Debug, Default)]
pub struct RecordedInvocations(pub Mutex<Vec<(String, Vec<u8>)>>);

impl RecordedInvocations {
    /// Takes the payloads recorded so far, oldest first.
    pub fn take(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.0.lock().unwrap())
            .into_iter()
            .map(|(_, payload)| payload)
            .collect()
    }
}

impl AsyncInvoke for RecordedInvocations {
    async fn invoke_async(&self, function: &str, payload: Vec<u8>) -> Result<(), StoreError> {
        self.0.lock().unwrap().push((function.to_owned(), payload));
        Ok(())
    }
}
