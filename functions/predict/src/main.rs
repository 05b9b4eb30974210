//! Lambda entry point: wires configuration, clients, the model and the metrics, then serves.

use aws_adapter::emf::Emf;
use lambda_http::Error;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let (app, init_times) = match predict::init().await {
        Ok(ready) => ready,
        Err(e) => {
            // One JSON log line naming what is wrong; the non-zero exit fails the init.
            tracing::error!(error = %e, "init failed");
            std::process::exit(1);
        }
    };
    // Metrics are worth having, not worth failing the cold start for.
    let metrics = Emf::install_from_env("predict")
        .inspect_err(|e| tracing::warn!(error = %e, "serving without metrics"))
        .ok();
    if let Some(metrics) = &metrics {
        predict::telemetry::describe();
        predict::telemetry::cold_start(app.model().version(), &init_times);
        metrics.flush();
    }
    predict::serve(&app, metrics.as_ref()).await
}
