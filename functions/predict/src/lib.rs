//! The online prediction function: `GET /predict/{product_id}` scores a product's stored
//! attributes (the model *in* the service), `POST /predict` scores attributes sent in the
//! body (the model *as* a service), `GET /health` tells which model is loaded. The Open
//! Inference Protocol's REST routes (`/v2/...`, [`oip`]) serve the same model to
//! KServe/Triton clients.

mod app;
pub mod oip;
pub mod routes;
mod serve;

pub use app::{ApiError, App, MAX_BODY_BYTES, MAX_INSTANCES};
pub use serve::serve;

pub use aws_adapter::config::InitError;

use aws_adapter::config::PredictConfig;
use aws_adapter::dynamodb::DynamoDbAttributes;
use aws_adapter::s3::S3ModelSource;
use aws_adapter::{AwsClients, CallPolicy};
use store::model_source::load_model;

/// Cold start: read the configuration, build the AWS clients, fetch and build the model.
/// Any failure stops the function before it serves: it never answers without a model.
pub async fn init() -> Result<App<DynamoDbAttributes>, InitError> {
    let config = PredictConfig::from_env()?;
    let clients = AwsClients::from_env(CallPolicy::ONLINE).await;
    init_with(&config, &clients).await
}

pub async fn init_with(
    config: &PredictConfig,
    clients: &AwsClients,
) -> Result<App<DynamoDbAttributes>, InitError> {
    let source = S3ModelSource::new(clients.s3.clone(), config.model.clone());
    let model = load_model(&source).await?;
    tracing::info!(
        model_version = model.version(),
        model_name = config.model_name,
        features = model.features().len(),
        "model loaded"
    );
    Ok(App::new(
        model,
        DynamoDbAttributes::new(clients.dynamodb.clone(), &config.attributes_table),
        &config.model_name,
    ))
}
