//! The cold-start floor the predict bootstrap is measured against: what any function of
//! this kind does before its own work (logging, the metrics recorder, the same SDK clients
//! under the same policy) and then answers every request with a fixed body. Built like
//! the bootstrap (`cargo build --release -p predict --example floor`) and started beside
//! it by `coldstart --floor`.

use std::convert::Infallible;

use aws_adapter::clients::{AwsClients, CallPolicy};
use aws_adapter::lambda::start;
use lambda_http::{service_fn, Body, Request, Response};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let metrics = start("floor");
    let clients = AwsClients::from_env(CallPolicy::ONLINE).await;
    if let Some(metrics) = &metrics {
        metrics.flush();
    }
    lambda_http::run(service_fn(move |_: Request| {
        // Held, as a handler holds them: the clients live as long as the sandbox.
        let _ = &clients;
        async { Ok::<_, Infallible>(Response::new(Body::from("{}"))) }
    }))
    .await
}
