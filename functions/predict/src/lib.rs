//! The online prediction function: `GET /predict/{product_id}` scores a product's stored
//! attributes (the model *in* the service), `POST /predict` scores attributes sent in the
//! body (the model *as* a service), `GET /predictions/{product_id}` reads back the nightly
//! run's result (offline inference), `GET /health` tells which model is loaded. The Open
//! Inference Protocol's REST routes (`/v2/...`, [`oip`]) serve the same model to
//! KServe/Triton clients. `POST /outcomes` takes back what really happened ([`outcomes`]).

mod answer;
mod app;
pub mod challenger;
mod health;
pub mod http;
mod instances;
pub mod oip;
pub mod outcomes;
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

use aws_adapter::clients::early_s3_client;
use aws_adapter::config::PredictConfig;
use aws_adapter::dynamodb::{DynamoDbAttributes, DynamoDbOutcomes, DynamoDbPredictions};
use aws_adapter::s3::{S3ModelSource, S3RunLog};
use aws_adapter::{aws_sdk_s3, AwsClients, CallPolicy, SdkRetries};
use futures_util::future::join;
use results::NightlyResults;
use std::time::Instant;

use store::model_source::{load_pair_timed, LoadTimes, LoadedPair};
use telemetry::InitTimes;

/// The app as deployed: DynamoDB for attributes, results and outcomes, S3 for the run log.
pub type AwsApp =
    App<DynamoDbAttributes, NightlyResults<DynamoDbPredictions, S3RunLog>, DynamoDbOutcomes>;

/// Cold start: read the configuration, build the AWS clients, fetch and build the model.
/// Any failure stops the function before it serves: it never answers without a model.
/// Returns how long each step took, for the cold-start metrics.
///
/// The model's download and build overlap the clients' set-up (the standard chain's
/// providers, the shared configuration): an S3 client made from Lambda's environment
/// alone starts the download at once (see [`early_s3_client`]); where the environment asks
/// for the chain, the model waits for the clients.
pub async fn init() -> Result<(AwsApp, InitTimes), InitError> {
    let started = Instant::now();
    let config = PredictConfig::from_env()?;
    let configured = Instant::now();
    let timed_clients = async {
        let clients = AwsClients::from_env(CallPolicy::ONLINE).await;
        (clients, configured.elapsed())
    };
    let early = early_s3_client(
        |name| std::env::var(name).ok(),
        CallPolicy::ONLINE,
        &SdkRetries::default(),
    );
    let ((clients, clients_took), loaded) = match early {
        Some(s3) => {
            let (clients, loaded) = join(timed_clients, load(&config, &s3)).await;
            (clients, loaded?)
        }
        None => {
            let (clients, took) = timed_clients.await;
            let loaded = load(&config, &clients.s3).await?;
            ((clients, took), loaded)
        }
    };
    let (app, load) = assemble(&config, &clients, loaded);
    let times = InitTimes {
        config: configured - started,
        clients: clients_took,
        model_fetch: load.fetch,
        model_build: load.build,
        total: started.elapsed(),
    };
    Ok((app, times))
}

pub async fn init_with(config: &PredictConfig, clients: &AwsClients) -> Result<AwsApp, InitError> {
    let loaded = load(config, &clients.s3).await?;
    Ok(assemble(config, clients, loaded).0)
}

/// The model and its challenger, if any, downloaded with `s3` and built.
async fn load(config: &PredictConfig, s3: &aws_sdk_s3::Client) -> Result<LoadedPair, InitError> {
    let source = S3ModelSource::new(s3.clone(), config.model.clone());
    let challenger_source = config
        .challenger
        .as_ref()
        .map(|location| S3ModelSource::new(s3.clone(), location.clone()));
    Ok(load_pair_timed(&source, challenger_source.as_ref(), &config.load_budget).await?)
}

/// The app around the loaded models, with the clients' stores.
fn assemble(
    config: &PredictConfig,
    clients: &AwsClients,
    (model, load, challenger): LoadedPair,
) -> (AwsApp, LoadTimes) {
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
    .with_results(results)
    .with_outcomes(config.outcomes_table.as_ref().map(|table| {
        DynamoDbOutcomes::new(
            clients.dynamodb.clone(),
            table,
            config.outcome_retention_days,
        )
    }));
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
    (app, load)
}
