//! The results of a run: one per product, written in batches. A store may leave part of a
//! batch unwritten (DynamoDB's UnprocessedItems) and hands it back for the caller to resend.

use std::future::Future;
use std::sync::Arc;

use crate::StoreError;

/// Most predictions in one write (BatchWriteItem's limit).
pub const MAX_BATCH: usize = 25;

/// One result. The fields every result of a run shares are reference-counted: a page of
/// predictions costs one allocation per row (its id), not four.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub product_id: String,
    /// A score, or a label with class probabilities.
    pub answer: scoring::Prediction,
    pub model_version: Arc<str>,
    pub run_id: Arc<str>,
    /// RFC 3339.
    pub scored_at: Arc<str>,
}

pub trait PredictionSink: Send + Sync {
    /// Writes up to [`MAX_BATCH`] predictions; returns those not written this time.
    fn write(
        &self,
        batch: &[Prediction],
    ) -> impl Future<Output = Result<Vec<Prediction>, StoreError>> + Send;
}

/// The latest stored result of each product, read back by the application.
pub trait PredictionLookup: Send + Sync {
    /// The product's stored result, or `None` if no run has scored it.
    fn stored(
        &self,
        product_id: &str,
    ) -> impl Future<Output = Result<Option<Prediction>, StoreError>> + Send;
}
