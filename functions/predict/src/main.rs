//! Lambda entry point: wires logging and metrics, configuration, clients and the model,
//! then serves.

use aws_adapter::lambda::{ready_or_exit, start};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    // The recorder first: the app registers its metric handles with it.
    let metrics = start("predict");
    let (app, init_times) = ready_or_exit(predict::init().await);
    if let Some(metrics) = &metrics {
        predict::telemetry::describe();
        predict::telemetry::cold_start(app.model().version(), &init_times);
        if let predict::challenger::Challenger::FailedToLoad = app.challenger() {
            predict::telemetry::challenger_load_failed(app.model().version());
        }
        metrics.flush();
    }
    predict::serve(&app, metrics.as_ref()).await
}
