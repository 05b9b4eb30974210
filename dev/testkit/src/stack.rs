//! The demo stack's resources on a moto server: names, creation, seeding.

use aws_sdk_dynamodb as dynamodb;
use aws_sdk_s3 as s3;

use crate::{demo_data, moto, resources};

/// Resource names of the local stack (the SAM stack names its own).
pub const MODEL_BUCKET: &str = "models";
pub const MODEL_KEY: &str = "wine-quality/wine_quality.onnx";
pub const ATTRIBUTES_TABLE: &str = "product-attributes";
pub const PREDICTIONS_TABLE: &str = "predictions";
/// Where `POST /outcomes` writes and the nightly run reads.
pub const OUTCOMES_TABLE: &str = "outcomes";
/// The demo classifier's stack: its model beside the regressor's, its own products.
pub const CLASSIFIER_KEY: &str = "wine-good/wine_good_classifier.onnx";
/// The models' names in the Open Inference Protocol routes (`/v2/models/{name}`): the
/// template's default `ModelName`, and the classifier's.
pub const MODEL_NAME: &str = "wine-quality";
pub const CLASSIFIER_NAME: &str = "wine-good";
pub const COLORED_TABLE: &str = "colored-wine-attributes";
/// The classifier's own results table (no nightly run fills it locally).
pub const COLORED_PREDICTIONS_TABLE: &str = "colored-wine-predictions";
/// The classifier's own outcomes: labels, not the regressor's numbers.
pub const COLORED_OUTCOMES_TABLE: &str = "colored-wine-outcomes";

pub struct Clients {
    pub s3: s3::Client,
    pub dynamodb: dynamodb::Client,
}

impl Clients {
    pub async fn for_endpoint(endpoint: &str) -> Clients {
        let config = moto::sdk_config(endpoint).await;
        Clients {
            s3: s3::Client::new(&config),
            dynamodb: dynamodb::Client::new(&config),
        }
    }
}

/// The committed demo model.
pub fn demo_model_bytes() -> Result<Vec<u8>, String> {
    let path = moto::repository_root().join("model/wine_quality.onnx");
    std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Bucket + model, attribute table + all wines, the results and outcomes tables. Returns
/// the model's VersionId.
pub async fn create_demo_stack(
    clients: &Clients,
    mut progress: impl FnMut(usize, usize),
) -> Result<String, String> {
    resources::create_bucket(&clients.s3, MODEL_BUCKET).await?;
    let version =
        resources::put_object(&clients.s3, MODEL_BUCKET, MODEL_KEY, demo_model_bytes()?).await?;
    resources::create_table(&clients.dynamodb, ATTRIBUTES_TABLE).await?;
    resources::create_table(&clients.dynamodb, PREDICTIONS_TABLE).await?;
    resources::create_outcomes_table(&clients.dynamodb, OUTCOMES_TABLE).await?;
    load_wines(&clients.dynamodb, ATTRIBUTES_TABLE, &mut progress).await?;
    Ok(version)
}

/// The demo wines into `table`, which must exist (the local one, or a deployed stack's
/// AttributesTable: `devstack load-wines <table>`). Calls `progress(done, total)`.
pub async fn load_wines(
    dynamodb: &dynamodb::Client,
    table: &str,
    mut progress: impl FnMut(usize, usize),
) -> Result<usize, String> {
    let wines = demo_data::repository_wines()?;
    let total = wines.len();
    resources::put_items(dynamodb, table, &wines, |n| progress(n, total)).await?;
    Ok(total)
}

/// The demo classifier ("good" wine, red and white, `color` a categorical attribute) and
/// its products (`red-0001`.., `white-0001`..). Returns the model's VersionId.
pub async fn create_classifier_stack(
    clients: &Clients,
    mut progress: impl FnMut(usize, usize),
) -> Result<String, String> {
    let path = moto::repository_root().join("model/wine_good_classifier.onnx");
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let version = resources::put_object(&clients.s3, MODEL_BUCKET, CLASSIFIER_KEY, bytes).await?;
    resources::create_table(&clients.dynamodb, COLORED_TABLE).await?;
    resources::create_table(&clients.dynamodb, COLORED_PREDICTIONS_TABLE).await?;
    resources::create_outcomes_table(&clients.dynamodb, COLORED_OUTCOMES_TABLE).await?;
    let wines = demo_data::colored_wines()?;
    let total = wines.len();
    resources::put_items(&clients.dynamodb, COLORED_TABLE, &wines, |n| {
        progress(n, total)
    })
    .await?;
    Ok(version)
}

/// The classifier's predict function: the same binary, another model and table.
pub fn classifier_env() -> Vec<(&'static str, String)> {
    let mut env = predict_env();
    for (name, value) in &mut env {
        match *name {
            "MODEL_KEY" => *value = CLASSIFIER_KEY.to_owned(),
            "ATTRIBUTES_TABLE" => *value = COLORED_TABLE.to_owned(),
            "PREDICTIONS_TABLE" => *value = COLORED_PREDICTIONS_TABLE.to_owned(),
            "OUTCOMES_TABLE" => *value = COLORED_OUTCOMES_TABLE.to_owned(),
            // Its own run log, which no local run writes.
            "RUNS_PREFIX" => *value = "classifier-runs/".to_owned(),
            "MODEL_NAME" => *value = CLASSIFIER_NAME.to_owned(),
            _ => {}
        }
    }
    env
}

/// The predict function's configuration for this stack.
pub fn predict_env() -> Vec<(&'static str, String)> {
    vec![
        ("MODEL_BUCKET", MODEL_BUCKET.to_owned()),
        ("MODEL_KEY", MODEL_KEY.to_owned()),
        ("ATTRIBUTES_TABLE", ATTRIBUTES_TABLE.to_owned()),
        ("PREDICTIONS_TABLE", PREDICTIONS_TABLE.to_owned()),
        ("OUTCOMES_TABLE", OUTCOMES_TABLE.to_owned()),
        ("RUNS_PREFIX", "batch-runs/".to_owned()),
        ("MODEL_NAME", MODEL_NAME.to_owned()),
        // As the template sets it: route on the path without the API stage.
        ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true".to_owned()),
    ]
}

/// The batch function's configuration for this stack.
pub fn batch_env() -> Vec<(&'static str, String)> {
    vec![
        ("MODEL_BUCKET", MODEL_BUCKET.to_owned()),
        ("MODEL_KEY", MODEL_KEY.to_owned()),
        ("ATTRIBUTES_TABLE", ATTRIBUTES_TABLE.to_owned()),
        ("PREDICTIONS_TABLE", PREDICTIONS_TABLE.to_owned()),
        ("OUTCOMES_TABLE", OUTCOMES_TABLE.to_owned()),
    ]
}
