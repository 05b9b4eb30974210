//! Adapters between the domain ([`scoring`]) and AWS: configuration from the environment,
//! the model object in S3, product attributes in DynamoDB. Each store is a small trait with
//! an AWS implementation and an in-memory twin for unit tests.

pub mod attributes;
pub mod config;
pub mod item;
pub mod model_source;
pub mod predictions;
pub mod retry;
pub mod run_log;
pub mod scan;

// The SDK crates, for callers that build clients or match on their types.
pub use aws_config;
pub use aws_sdk_dynamodb;
pub use aws_sdk_s3;

/// AWS clients from the standard configuration chain: `AWS_REGION`, credentials, and
/// `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3` / `_DYNAMODB`), which is how a local
/// emulator is reached with no code for it.
pub async fn aws_clients() -> (aws_sdk_s3::Client, aws_sdk_dynamodb::Client) {
    let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    (
        aws_sdk_s3::Client::new(&shared),
        aws_sdk_dynamodb::Client::new(&shared),
    )
}
