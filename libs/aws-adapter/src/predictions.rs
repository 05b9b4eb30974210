//! The results table: one item per product, written with BatchWriteItem (25 a request).
//! What DynamoDB leaves unprocessed is handed back for the caller to retry.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};

use crate::attributes::PRODUCT_ID;
use crate::retry::Failure;

/// BatchWriteItem's limit.
pub const MAX_BATCH: usize = 25;

/// One result item. The fields every item of a run shares are reference-counted: a page
/// of predictions costs one allocation per row (its id), not four.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub product_id: String,
    pub score: f32,
    pub model_version: Arc<str>,
    pub run_id: Arc<str>,
    /// RFC 3339.
    pub scored_at: Arc<str>,
}

impl Prediction {
    pub fn to_item(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (
                PRODUCT_ID.to_owned(),
                AttributeValue::S(self.product_id.clone()),
            ),
            (
                "score".to_owned(),
                AttributeValue::N(self.score.to_string()),
            ),
            (
                "model_version".to_owned(),
                AttributeValue::S(self.model_version.to_string()),
            ),
            (
                "run_id".to_owned(),
                AttributeValue::S(self.run_id.to_string()),
            ),
            (
                "scored_at".to_owned(),
                AttributeValue::S(self.scored_at.to_string()),
            ),
        ])
    }

    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Prediction> {
        let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok());
        Some(Prediction {
            product_id: s(PRODUCT_ID)?.clone(),
            score: item.get("score")?.as_n().ok()?.parse().ok()?,
            model_version: s("model_version")?.as_str().into(),
            run_id: s("run_id")?.as_str().into(),
            scored_at: s("scored_at")?.as_str().into(),
        })
    }
}

pub trait PredictionSink: Send + Sync {
    /// Writes up to [`MAX_BATCH`] predictions; returns those not written this time.
    fn write(
        &self,
        batch: &[Prediction],
    ) -> impl Future<Output = Result<Vec<Prediction>, Failure>> + Send;
}

/// BatchWriteItem's put requests for `batch`.
pub fn write_requests(batch: &[Prediction]) -> Result<Vec<WriteRequest>, Failure> {
    batch
        .iter()
        .map(|p| {
            let put = PutRequest::builder()
                .set_item(Some(p.to_item()))
                .build()
                .map_err(|e| Failure::fatal(e.to_string()))?;
            Ok(WriteRequest::builder().put_request(put).build())
        })
        .collect()
}

pub struct DynamoDbPredictions {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoDbPredictions {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoDbPredictions {
            client,
            table: table.into(),
        }
    }
}

impl PredictionSink for DynamoDbPredictions {
    async fn write(&self, batch: &[Prediction]) -> Result<Vec<Prediction>, Failure> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        if batch.len() > MAX_BATCH {
            return Err(Failure::fatal(format!(
                "{} items in one BatchWriteItem (limit {MAX_BATCH})",
                batch.len()
            )));
        }
        let out = self
            .client
            .batch_write_item()
            .request_items(&self.table, write_requests(batch)?)
            .send()
            .await
            .map_err(|e| {
                Failure::classify(
                    e.code(),
                    format!(
                        "write to {} failed: {}",
                        self.table,
                        DisplayErrorContext(&e)
                    ),
                )
            })?;
        // Map what came back unprocessed to the predictions we were given.
        let unprocessed: Vec<String> = out
            .unprocessed_items
            .and_then(|mut u| u.remove(&self.table))
            .unwrap_or_default()
            .iter()
            .filter_map(|r| {
                r.put_request()?
                    .item()
                    .get(PRODUCT_ID)?
                    .as_s()
                    .ok()
                    .cloned()
            })
            .collect();
        Ok(batch
            .iter()
            .filter(|p| unprocessed.contains(&p.product_id))
            .cloned()
            .collect())
    }
}

/// Predictions kept in memory, with scripted faults, for unit tests.
#[derive(Debug, Default)]
pub struct InMemoryPredictions {
    pub items: Mutex<HashMap<String, Prediction>>,
    /// Each call takes the next fault, if any: `Unprocessed(n)` leaves the last n of the
    /// batch unwritten, `Fail` fails the whole call.
    pub faults: Mutex<std::collections::VecDeque<Fault>>,
    pub calls: Mutex<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    Unprocessed(usize),
    Fail(Failure),
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
    async fn write(&self, batch: &[Prediction]) -> Result<Vec<Prediction>, Failure> {
        *self.calls.lock().unwrap() += 1;
        let fault = self.faults.lock().unwrap().pop_front();
        let written = match fault {
            Some(Fault::Fail(f)) => return Err(f),
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
