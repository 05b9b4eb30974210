//! The results of a run: one per product, written in batches. A store may leave part of a
//! batch unwritten (DynamoDB's UnprocessedItems) and hands it back for the caller to resend.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::StoreError;

/// Most predictions in one write (BatchWriteItem's limit).
pub const MAX_BATCH: usize = 25;

/// One result. The fields every result of a run shares are reference-counted: a page of
/// predictions costs one allocation per row (its id), not four.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub product_id: String,
    pub score: f32,
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

/// Predictions kept in memory, with scripted faults, for tests.
#[derive(Debug, Default)]
pub struct InMemoryPredictions {
    pub items: Mutex<HashMap<String, Prediction>>,
    /// Each call takes the next fault, if any.
    pub faults: Mutex<VecDeque<Fault>>,
    pub calls: Mutex<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Leaves the last n of the batch unwritten.
    Unprocessed(usize),
    /// Fails the whole call.
    Fail(StoreError),
}

impl InMemoryPredictions {
    pub fn with_faults(faults: impl IntoIterator<Item = Fault>) -> Self {
        InMemoryPredictions {
            faults: Mutex::new(faults.into_iter().collect()),
            ..Default::default()
        }
    }

    pub fn snapshot(&self) -> HashMap<String, Prediction> {
        self.items.lock().unwrap().clone()
    }
}

impl PredictionSink for InMemoryPredictions {
    async fn write(&self, batch: &[Prediction]) -> Result<Vec<Prediction>, StoreError> {
        *self.calls.lock().unwrap() += 1;
        let fault = self.faults.lock().unwrap().pop_front();
        let written = match fault {
            Some(Fault::Fail(e)) => return Err(e),
            Some(Fault::Unprocessed(n)) => batch.len().saturating_sub(n),
            None => batch.len(),
        };
        let mut items = self.items.lock().unwrap();
        for p in &batch[..written] {
            items.insert(p.product_id.clone(), p.clone());
        }
        Ok(batch[written..].to_vec())
    }
}
