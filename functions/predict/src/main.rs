//! Lambda entry point: wires configuration, clients and the model, then serves.

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = match predict::init().await {
        Ok(app) => app,
        Err(e) => {
            // One JSON log line naming what is wrong; the non-zero exit fails the init.
            tracing::error!(error = %e, "init failed");
            std::process::exit(1);
        }
    };
    let app = &app;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(app.handle(request).await)
    }))
    .await
}
