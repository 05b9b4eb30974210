//! Handing work to a new invocation of a function, asynchronously (Lambda's
//! InvocationType=Event): how a run goes on past one invocation's time limit.

use std::future::Future;

use crate::StoreError;

pub trait AsyncInvoke: Send + Sync {
    /// Queues an invocation of `function` with `payload`; returns once it is accepted.
    fn invoke_async(
        &self,
        function: &str,
        payload: Vec<u8>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
