//! The online prediction function: `GET /predict/{product_id}` scores a product's stored
//! attributes (the model *in* the service), `POST /predict` scores attributes sent in the
//! body (the model *as* a service), `GET /health` tells which model is loaded.

mod app;
pub mod routes;

pub use app::{ApiError, App, MAX_BODY_BYTES, MAX_INSTANCES};

use aws_adapter::attributes::DynamoDbAttributes;
use aws_adapter::config::{ConfigError, PredictConfig};
use aws_adapter::model_source::{load_model, ModelLoadError, S3ModelSource};

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Model(#[from] ModelLoadError),
}

/// Cold start: read the configuration, build the AWS clients, fetch and build the model.
/// Any failure stops the function before it serves: it never answers without a model.
pub async fn init() -> Result<App<DynamoDbAttributes>, InitError> {
    let config = PredictConfig::from_env()?;
    let (s3, dynamodb) = aws_adapter::aws_clients().await;
    init_with(&config, s3, dynamodb).await
}

pub async fn init_with(
    config: &PredictConfig,
    s3: aws_adapter::aws_sdk_s3::Client,
    dynamodb: aws_adapter::aws_sdk_dynamodb::Client,
) -> Result<App<DynamoDbAttributes>, InitError> {
    let model = load_model(&S3ModelSource::new(s3, config.model.clone())).await?;
    tracing::info!(
        model_version = model.version(),
        features = model.features().len(),
        "model loaded"
    );
    Ok(App::new(
        model,
        DynamoDbAttributes::new(dynamodb, &config.attributes_table),
    ))
}
