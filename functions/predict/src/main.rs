//! Lambda entry point: wires configuration, clients and the model, then serves.

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = predict::init()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "init failed"))?;
    let app = &app;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(app.handle(request).await)
    }))
    .await
}
