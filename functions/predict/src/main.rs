//! Lambda entry point: wires configuration, clients and the model, then serves.

use lambda_http::Error;

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
    predict::serve(&app).await
}
