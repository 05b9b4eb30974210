//! The storage ports: what the functions read and write, as small traits over the
//! domain's own types ([`scoring::Row`], [`predictions::Prediction`], ...), each with an
//! in-memory twin for tests. The AWS implementations live in the `aws-adapter` crate, the
//! only one that knows the SDK's types.

pub mod attributes;
pub mod capture;
pub mod error;
pub mod model_source;
pub mod orchestrator;
pub mod outcomes;
pub mod predictions;
pub mod run_log;
pub mod scan;

pub use error::{ErrorKind, StoreError};

/// The partition key of the attribute and prediction tables.
pub const PRODUCT_ID: &str = "product_id";

/// Retries made beneath the store calls (an SDK's own), counted since the process started:
/// a run reads it before and after to count what it cost.
pub trait RetryCount: Send + Sync {
    fn retries(&self) -> u64;
}

/// Stores that retry nothing beneath their calls (the in-memory twins).
impl RetryCount for () {
    fn retries(&self) -> u64 {
        0
    }
}
