//! The online prediction function: `GET /predict/{product_id}` scores a product's stored
//! attributes (the model *in* the service), `POST /predict` scores attributes sent in the
//! body (the model *as* a service), `GET /predictions/{product_id}` reads back the nightly
//! run's result (offline inference), `GET /health` tells which model is loaded. The Open
//! Inference Protocol's REST routes (`/v2/...`, [`oip`]) serve the same model to
//! KServe/Triton clients.

mod api_error;
mod app;
pub mod oip;
pub mod results;
pub mod routes;
mod serve;

pub use api_error::ApiError;
pub use app::{App, MAX_BODY_BYTES, MAX_INSTANCES};
pub use serve::serve;

pub use aws_adapter::config::InitError;

use aws_adapter::config::PredictConfig;
use aws_adapter::dynamodb::{DynamoDbAttributes, DynamoDbPredictions};
use aws_adapter::s3::{S3ModelSource, S3RunLog};
use aws_adapter::{AwsClients, CallPolicy};
use results::NightlyResults;
use store::model_source::load_model;

/// The app as deployed: DynamoDB for attributes and results, S3 for the run log.
pub type AwsApp = App<DynamoDbAttributes, NightlyResults<DynamoDbPredictions, S3RunLog>>;

/// Cold start: read the configuration, build the AWS clients, fetch and build the model.
/// Any failure stops the function before it serves: it never answers without a model.
pub async fn init() -> Result<AwsApp, InitError> {
    let config = PredictConfig::from_env()?;
    let clients = AwsClients::from_env(CallPolicy::ONLINE).await;
    init_with(&config, &clients).await
}

pub async fn init_with(config: &PredictConfig, clients: &AwsClients) -> Result<AwsApp, InitError> {
    let source = S3ModelSource::new(clients.s3.clone(), config.model.clone());
    let model = load_model(&source).await?;
    tracing::info!(
        model_version = model.version(),
        model_name = config.model_name,
        features = model.features().len(),
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
    Ok(App::new(
        model,
        DynamoDbAttributes::new(clients.dynamodb.clone(), &config.attributes_table),
        &config.model_name,
    )
    .with_results(results))
}
