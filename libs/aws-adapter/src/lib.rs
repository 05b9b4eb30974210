//! The AWS implementations of the store traits, and the only crate that knows the SDK's
//! types: the model in S3, attributes and predictions in DynamoDB, run summaries in S3,
//! a night's run started in Step Functions, captured requests read back from S3. Each
//! adapter speaks the domain's types ([`scoring::Row`], [`store::predictions::Prediction`])
//! and [`store::StoreError`].
//!
//! The clients are built in one place, [`clients`], with one retry policy: the SDK's own.

pub mod clients;
pub mod config;
pub mod dynamodb;
pub mod emf;
mod errors;
pub mod lambda;
pub mod s3;
pub mod s3_captures;
pub mod step_functions;

pub use clients::{AwsClients, CallPolicy, SdkRetries};

// The SDK crates, for the functions' `main`s and the tests that build clients.
pub use aws_config;
pub use aws_sdk_dynamodb;
pub use aws_sdk_s3;
pub use aws_sdk_sfn;
