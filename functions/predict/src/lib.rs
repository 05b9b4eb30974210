//! The online prediction function: `GET /predict/{product_id}` scores a product's stored
//! attributes (the model *in* the service), `POST /predict` scores attributes sent in the
//! body (the model *as* a service), `GET /predictions/{product_id}` reads back the nightly
//! run's result (offline inference), `GET /health` tells which model is loaded. The Open
//! Inference Protocol's REST routes (`/v2/...`, [`oip`]) serve the same model to
//! KServe/Triton clients.

mod answer;
mod app;
pub mod challenger;
mod health;
pub mod http;
mod instances;
pub mod oip;
mod pick;
mod product;
pub mod results;
pub mod routes;
mod serve;
mod stored;
pub mod telemetry;

pub use app::App;
pub use http::limits::{MAX_BODY_BYTES, MAX_INSTANCES};
pub use http::ApiError;
pub use serve::serve;

pub use aws_adapter::config::InitError;

use aws_adapter::config::PredictConfig;
use aws_adapter::dynamodb::{DynamoDbAttributes, DynamoDbPredictions};
use aws_adapter::s3::{S3ModelSource, S3RunLog};
use aws_adapter::{AwsClients, CallPolicy};
use results::NightlyResults;
use std::time::Instant;

use store::model_source::{load_pair_timed, LoadTimes};
use telemetry::InitTimes;

/// The app as deployed: DynamoDB for attributes and results, S3 for the run log.
pub type AwsApp = App<DynamoDbAttributes, NightlyResults<DynamoDbPredictions, S3RunLog>>;

/// Cold start: read the configuration, build the AWS clients, fetch and build the model.
/// Any failure stops the function before it serves: it never answers without a model.
/// Returns how long each step took, for the cold-start metrics.
pub async fn init() -> Result<(AwsApp, InitTimes), InitError> {
    let started = Instant::now();
    let config = PredictConfig::from_env()?;
    let configured = Instant::now();
    let clients = AwsClients::from_env(CallPolicy::ONLINE).await;
    let built = Instant::now();
    let (app, load) = build(&config, &clients).await?;
    let times = InitTimes {
        config: configured - started,
        clients: built - configured,
        model_fetch: load.fetch,
        model_build: load.build,
    };
    Ok((app, times))
}

pub async fn init_with(config: &PredictConfig, clients: &AwsClients) -> Result<AwsApp, InitError> {
    Ok(build(config, clients).await?.0)
}

async fn build(
    config: &PredictConfig,
    clients: &AwsClients,
) -> Result<(AwsApp, LoadTimes), InitError> {
    let source = S3ModelSource::new(clients.s3.clone(), config.model.clone());
    let challenger_source = config
        .challenger
        .as_ref()
        .map(|location| S3ModelSource::new(clients.s3.clone(), location.clone()));
    let (model, load, challenger) = load_pair_timed(&source, challenger_source.as_ref()).await?;
    tracing::info!(
        model_version = model.version(),
        model_name = config.model_name,
        features = model.features().len(),
        model_card = model.card().is_some(),
        "model loaded"
    );
    let results = NightlyResults::new(
        DynamoDbPredictions::new(clients.dynamodb.clone(), &config.predictions_table),
        S3RunLog::new(
            clients.s3.clone(),
            &config.model.bucket,
            &config.runs_prefix,
        ),
    );
    let app = App::new(
        model,
        DynamoDbAttributes::new(clients.dynamodb.clone(), &config.attributes_table),
        &config.model_name,
    )
    .with_results(results);
    let app = match challenger {
        None => app,
        Some(Ok((challenger, times))) => {
            tracing::info!(
                challenger_version = challenger.version(),
                challenger_name = config.challenger_name(),
                features = challenger.features().len(),
                same_schema = challenger.schema() == app.model().schema(),
                fetch_ms = times.fetch.as_secs_f64() * 1e3,
                build_ms = times.build.as_secs_f64() * 1e3,
                "challenger loaded"
            );
            app.with_challenger(challenger)
        }
        // Never the champion's failure: it serves alone, and the reason is here.
        Some(Err(e)) => {
            tracing::error!(
                error = %e,
                "the challenger could not be loaded; the model serves without it"
            );
            app.with_failed_challenger()
        }
    };
    Ok((app, load))
}
