//! Test support for the functions' tests, the end-to-end tests and the local stack:
//! moto server on a free loopback port, a local Lambda Runtime API (and an HTTP front that
//! turns plain HTTP requests into API Gateway events for it), the demo resources.
//! Dev and test only: no deployed function depends on it.

pub mod alone;
#[cfg(feature = "batch-support")]
pub mod batch_support;
pub mod bootstrap;
pub mod capture_pipeline;
pub mod cloudformation;
pub mod demo_data;
pub mod deploy;
pub mod emf;
pub mod fault_proxy;
pub mod http_front;
pub mod memory;
pub mod models;
pub mod module_graph;
pub mod moto;
#[cfg(feature = "predict-support")]
pub mod predict_support;
pub mod resources;
pub mod runtime_api;
pub mod stack;
pub mod state_machine;

/// A DynamoDB item as the SDK holds it: the test kit writes and reads tables directly.
pub type Item = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

/// The partition key of every table the functions use.
pub const PRODUCT_ID: &str = "product_id";
