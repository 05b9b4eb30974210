//! The predictions table: one item per product, written with BatchWriteItem. What DynamoDB
//! leaves unprocessed is handed back for the caller to resend.

use std::sync::Arc;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use scoring::{ClassPrediction, Label, Prediction as Answer, Space};
use store::predictions::{
    ChallengerAnswer, Prediction, PredictionLookup, PredictionSink, TopContributions, MAX_BATCH,
};
use store::{StoreError, PRODUCT_ID};

use super::item::{item_of, Item};
use crate::errors::store_error;

/// A regressor's result holds `score`; a classifier's, `label` (N or S, as the model
/// has it) and `probabilities` (a map from class to N). With an explanation:
/// `explanation_space` (S: `score`, `margin` or `probability`), `contributions` (a list,
/// largest first, of maps `{feature: S, value: N}`) and, for a classifier,
/// `explained_class` (as `label`). With a challenger's answer: `challenger_version` (S)
/// and `challenger_score`, or `challenger_label` and `challenger_probabilities`, as the
/// champion's; the champion's attributes are the same with or without.
pub fn prediction_item(p: &Prediction) -> Item {
    let mut item = Item::from([
        (
            PRODUCT_ID.to_owned(),
            AttributeValue::S(p.product_id.clone()),
        ),
        (
            "model_version".to_owned(),
            AttributeValue::S(p.model_version.to_string()),
        ),
        ("run_id".to_owned(), AttributeValue::S(p.run_id.to_string())),
        (
            "scored_at".to_owned(),
            AttributeValue::S(p.scored_at.to_string()),
        ),
    ]);
    insert_answer(&mut item, &CHAMPION, &p.answer);
    if let Some(e) = &p.explanation {
        insert_explanation(&mut item, e);
    }
    if let Some(c) = &p.challenger {
        item.insert(
            "challenger_version".to_owned(),
            AttributeValue::S(c.model_version.to_string()),
        );
        insert_answer(&mut item, &CHALLENGER, &c.answer);
    }
    item
}

/// Where an answer's attributes go: the champion's plain, the challenger's prefixed, so
/// that an item with a challenger holds the champion's attributes exactly as without.
struct AnswerKeys {
    score: &'static str,
    label: &'static str,
    probabilities: &'static str,
}

const CHAMPION: AnswerKeys = AnswerKeys {
    score: "score",
    label: "label",
    probabilities: "probabilities",
};

const CHALLENGER: AnswerKeys = AnswerKeys {
    score: "challenger_score",
    label: "challenger_label",
    probabilities: "challenger_probabilities",
};

fn insert_answer(item: &mut Item, keys: &AnswerKeys, answer: &Answer) {
    match answer {
        Answer::Score(score) => {
            item.insert(keys.score.to_owned(), AttributeValue::N(score.to_string()));
        }
        Answer::Class(c) => {
            item.insert(keys.label.to_owned(), label_value(c.label()));
            let probabilities = c
                .iter()
                .map(|(class, p)| (class.to_string(), AttributeValue::N(p.to_string())))
                .collect();
            item.insert(
                keys.probabilities.to_owned(),
                AttributeValue::M(probabilities),
            );
        }
    }
}

fn insert_explanation(item: &mut Item, e: &TopContributions) {
    item.insert(
        "explanation_space".to_owned(),
        AttributeValue::S(space_name(e.space).to_owned()),
    );
    if let Some(class) = &e.class {
        item.insert("explained_class".to_owned(), label_value(class));
    }
    let contributions = e
        .contributions
        .iter()
        .map(|(feature, value)| {
            AttributeValue::M(Item::from([
                ("feature".to_owned(), AttributeValue::S(feature.to_string())),
                ("value".to_owned(), AttributeValue::N(number(*value))),
            ]))
        })
        .collect();
    item.insert("contributions".to_owned(), AttributeValue::L(contributions));
}

fn space_name(space: Space) -> &'static str {
    match space {
        Space::Score => "score",
        Space::Margin => "margin",
        Space::Probability => "probability",
    }
}

/// A finite number as DynamoDB takes it: shortest round-trip digits, in exponent form far
/// from 1 (Rust's plain form of 1e-300 has 300 zeros), and 0 below the smallest magnitude
/// DynamoDB stores (1e-130), which it would refuse along with the whole batch.
pub(super) fn number(v: f64) -> String {
    let magnitude = v.abs();
    if magnitude < 1e-130 {
        "0".to_owned()
    } else if (1e-6..1e15).contains(&magnitude) {
        v.to_string()
    } else {
        format!("{v:e}")
    }
}

/// A stored explanation: `None` inside when the item has none (written without, or
/// before), `Err` when it has one that is not well formed.
fn explanation_from_item(item: &Item) -> Result<Option<TopContributions>, ()> {
    let Some(list) = item.get("contributions") else {
        return Ok(None);
    };
    let space = match item.get("explanation_space").and_then(|v| v.as_s().ok()) {
        Some(s) if s == "score" => Space::Score,
        Some(s) if s == "margin" => Space::Margin,
        Some(s) if s == "probability" => Space::Probability,
        _ => return Err(()),
    };
    let class = match item.get("explained_class") {
        None => None,
        Some(AttributeValue::N(n)) => Some(Label::Int(n.parse().map_err(|_| ())?)),
        Some(AttributeValue::S(s)) => Some(Label::Text(s.as_str().into())),
        Some(_) => return Err(()),
    };
    let contributions = list
        .as_l()
        .map_err(|_| ())?
        .iter()
        .map(|c| {
            let c = c.as_m().ok()?;
            let feature: Arc<str> = c.get("feature")?.as_s().ok()?.as_str().into();
            let value: f64 = c.get("value")?.as_n().ok()?.parse().ok()?;
            Some((feature, value))
        })
        .collect::<Option<_>>()
        .ok_or(())?;
    Ok(Some(TopContributions {
        space,
        class,
        contributions,
    }))
}

fn label_value(label: &Label) -> AttributeValue {
    match label {
        Label::Int(v) => AttributeValue::N(v.to_string()),
        Label::Text(s) => AttributeValue::S(s.to_string()),
    }
}

/// A stored answer. A DynamoDB map keeps no order, so the classes come back sorted (the
/// order scikit-learn, LightGBM and XGBoost give them).
fn answer_from_item(item: &Item, keys: &AnswerKeys) -> Option<Answer> {
    if let Some(score) = item.get(keys.score) {
        return Some(Answer::Score(score.as_n().ok()?.parse().ok()?));
    }
    let label = match item.get(keys.label)? {
        AttributeValue::N(n) => Label::Int(n.parse().ok()?),
        AttributeValue::S(s) => Label::Text(s.as_str().into()),
        _ => return None,
    };
    let mut classes: Vec<(Label, f32)> = item
        .get(keys.probabilities)?
        .as_m()
        .ok()?
        .iter()
        .map(|(k, v)| {
            let class = match label {
                Label::Int(_) => Label::Int(k.parse().ok()?),
                Label::Text(_) => Label::Text(k.as_str().into()),
            };
            Some((class, v.as_n().ok()?.parse().ok()?))
        })
        .collect::<Option<_>>()?;
    classes.sort_by(|a, b| match (&a.0, &b.0) {
        (Label::Int(x), Label::Int(y)) => x.cmp(y),
        (x, y) => x.to_string().cmp(&y.to_string()),
    });
    let label = classes.iter().position(|(c, _)| *c == label)?;
    let (classes, probabilities): (Vec<Label>, Vec<f32>) = classes.into_iter().unzip();
    Some(Answer::Class(ClassPrediction {
        classes: classes.into(),
        label,
        probabilities,
    }))
}

/// A stored prediction, or `None` if the item is not one.
pub fn prediction_from_item(item: &Item) -> Option<Prediction> {
    let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok());
    Some(Prediction {
        product_id: s(PRODUCT_ID)?.clone(),
        answer: answer_from_item(item, &CHAMPION)?,
        model_version: s("model_version")?.as_str().into(),
        run_id: s("run_id")?.as_str().into(),
        scored_at: s("scored_at")?.as_str().into(),
        explanation: explanation_from_item(item).ok()?,
        challenger: challenger_from_item(item),
    })
}

/// The challenger's stored answer. One that is not well formed is left out, the champion's
/// answer still read: a challenger never costs the champion's result.
fn challenger_from_item(item: &Item) -> Option<ChallengerAnswer> {
    let version = item.get("challenger_version")?.as_s().ok()?;
    Some(ChallengerAnswer {
        answer: answer_from_item(item, &CHALLENGER)?,
        model_version: version.as_str().into(),
    })
}

/// BatchWriteItem's put requests for `batch`.
pub fn write_requests(batch: &[Prediction]) -> Vec<WriteRequest> {
    batch
        .iter()
        .map(|p| {
            let put = PutRequest::builder()
                .set_item(Some(prediction_item(p)))
                .build()
                .expect("a PutRequest with an item builds");
            WriteRequest::builder().put_request(put).build()
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
    async fn write(&self, batch: &[Prediction]) -> Result<Vec<Prediction>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        if batch.len() > MAX_BATCH {
            return Err(StoreError::refused(format!(
                "{} items in one BatchWriteItem (limit {MAX_BATCH})",
                batch.len()
            )));
        }
        let out = self
            .client
            .batch_write_item()
            .request_items(&self.table, write_requests(batch))
            .send()
            .await
            .map_err(|e| store_error(&format!("BatchWriteItem to table {}", self.table), e))?;
        // Map what came back unprocessed to the predictions we were given.
        let unprocessed: Vec<String> = out
            .unprocessed_items
            .and_then(|mut u| u.remove(&self.table))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| match r.put_request?.item.remove(PRODUCT_ID)? {
                AttributeValue::S(id) => Some(id),
                _ => None,
            })
            .collect();
        Ok(batch
            .iter()
            .filter(|p| unprocessed.contains(&p.product_id))
            .cloned()
            .collect())
    }
}

/// Keys per BatchGetItem (its limit).
pub const MAX_GET: usize = 100;
/// BatchGetItem calls in flight at once in [`PredictionLookup::stored_many`].
pub const GETS_IN_FLIGHT: usize = 4;
/// Rounds of resending what BatchGetItem left unprocessed before giving up.
const GET_ROUNDS: u32 = 8;

impl DynamoDbPredictions {
    fn not_a_prediction(&self, product_id: &str) -> StoreError {
        StoreError::refused(format!(
            "the item of product {product_id:?} in table {} is not a stored prediction",
            self.table
        ))
    }

    /// Up to [`MAX_GET`] products' items, resending the unprocessed keys (after a short,
    /// growing pause) until none is left.
    async fn get_batch(&self, ids: &[String]) -> Result<Vec<Prediction>, StoreError> {
        let what = || format!("BatchGetItem on table {}", self.table);
        let mut keys: Vec<Item> = ids
            .iter()
            .map(|id| Item::from([(PRODUCT_ID.to_owned(), AttributeValue::S(id.clone()))]))
            .collect();
        let mut found = Vec::with_capacity(ids.len());
        use aws_sdk_dynamodb::config::AsyncSleep;
        let sleep = self.client.config().sleep_impl();
        for round in 0..GET_ROUNDS {
            if round > 0 {
                if let Some(sleep) = &sleep {
                    sleep
                        .sleep(std::time::Duration::from_millis(25 << round.min(5)))
                        .await;
                }
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .build()
                .map_err(|e| StoreError::refused(format!("{}: {e}", what())))?;
            let mut out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| store_error(&what(), e))?;
            for item in out
                .responses
                .as_mut()
                .and_then(|r| r.remove(&self.table))
                .unwrap_or_default()
            {
                let p = prediction_from_item(&item).ok_or_else(|| {
                    let id = item.get(PRODUCT_ID).and_then(|v| v.as_s().ok());
                    self.not_a_prediction(id.map_or("?", |s| s.as_str()))
                })?;
                found.push(p);
            }
            keys = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if keys.is_empty() {
                return Ok(found);
            }
        }
        Err(StoreError::unavailable(format!(
            "{}: {} keys still unprocessed after {GET_ROUNDS} rounds",
            what(),
            keys.len()
        )))
    }
}

impl PredictionLookup for DynamoDbPredictions {
    async fn stored(&self, product_id: &str) -> Result<Option<Prediction>, StoreError> {
        match item_of(&self.client, &self.table, product_id).await? {
            None => Ok(None),
            Some(item) => prediction_from_item(&item)
                .map(Some)
                .ok_or_else(|| self.not_a_prediction(product_id)),
        }
    }

    /// BatchGetItem of [`MAX_GET`] keys, [`GETS_IN_FLIGHT`] calls at a time; a product
    /// asked for twice is read once.
    async fn stored_many(&self, product_ids: &[String]) -> Result<Vec<Prediction>, StoreError> {
        use futures_util::stream::{self, StreamExt, TryStreamExt};

        let mut ids = product_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        // The calls made up front (futures do nothing until polled): a closure in the
        // stream would make the future's Send-ness depend on a higher-ranked lifetime.
        let gets: Vec<_> = ids.chunks(MAX_GET).map(|c| self.get_batch(c)).collect();
        let batches: Vec<Vec<Prediction>> = stream::iter(gets)
            .buffer_unordered(GETS_IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(batches.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests;
