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
    /// The answer's largest contributions, when the run was asked for them
    /// (`EXPLAIN_TOP_K`); `None` otherwise, and in items written before.
    pub explanation: Option<TopContributions>,
    /// The challenger's answer for the same row, when the run had a challenger and it
    /// answered this row; `None` otherwise, and in items written before.
    pub challenger: Option<ChallengerAnswer>,
}

/// A challenger's answer stored beside the champion's: never used in the champion's place,
/// read back for comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct ChallengerAnswer {
    pub answer: scoring::Prediction,
    /// Shared by every row of the run.
    pub model_version: Arc<str>,
}

/// A row's `k` largest contributions by absolute value, largest first: what moved this
/// answer most away from the base value, in the explanation's space.
#[derive(Debug, Clone, PartialEq)]
pub struct TopContributions {
    /// Where the contributions add up: a regressor's score, a classifier's margin or
    /// probability.
    pub space: scoring::Space,
    /// A classifier's class they explain: the predicted label's, or for a binary model
    /// with one margin its positive class whatever the label (the other is its mirror).
    /// `None` for a regressor.
    pub class: Option<scoring::Label>,
    /// (input feature, contribution). The names are the model's, shared by every row.
    pub contributions: Vec<(Arc<str>, f64)>,
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

    /// The stored results of many products at once (those no run has scored are left
    /// out), in no particular order. A store that can read many items per call (DynamoDB's
    /// BatchGetItem) does; this default reads them one by one.
    fn stored_many(
        &self,
        product_ids: &[String],
    ) -> impl Future<Output = Result<Vec<Prediction>, StoreError>> + Send {
        async move {
            let mut found = Vec::with_capacity(product_ids.len());
            for id in product_ids {
                found.extend(self.stored(id).await?);
            }
            Ok(found)
        }
    }
}
