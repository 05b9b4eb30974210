//! Lambda's Invoke API, asynchronous (InvocationType=Event): Lambda queues the event and
//! retries it by itself; this call returns once it is accepted.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use store::invoke::AsyncInvoke;
use store::StoreError;

use crate::errors::store_error;

pub struct LambdaInvoker {
    client: aws_sdk_lambda::Client,
}

impl LambdaInvoker {
    pub fn new(client: aws_sdk_lambda::Client) -> Self {
        LambdaInvoker { client }
    }
}

impl AsyncInvoke for LambdaInvoker {
    async fn invoke_async(&self, function: &str, payload: Vec<u8>) -> Result<(), StoreError> {
        self.client
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| store_error(&format!("Invoke of {function}"), e))?;
        Ok(())
    }
}
