//! The predictions table: one item per product, written with BatchWriteItem. What DynamoDB
//! leaves unprocessed is handed back for the caller to resend.

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use scoring::{ClassPrediction, Label, Prediction as Answer};
use store::predictions::{Prediction, PredictionLookup, PredictionSink, MAX_BATCH};
use store::{StoreError, PRODUCT_ID};

use super::item::{item_of, Item};
use crate::errors::store_error;

/// A regressor's result holds `score`; a classifier's, `label` (N or S, as the model
/// has it) and `probabilities` (a map from class to N).
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
    match &p.answer {
        Answer::Score(score) => {
            item.insert("score".to_owned(), AttributeValue::N(score.to_string()));
        }
        Answer::Class(c) => {
            item.insert("label".to_owned(), label_value(c.label()));
            let probabilities = c
                .iter()
                .map(|(class, p)| (class.to_string(), AttributeValue::N(p.to_string())))
                .collect();
            item.insert("probabilities".to_owned(), AttributeValue::M(probabilities));
        }
    }
    item
}

fn label_value(label: &Label) -> AttributeValue {
    match label {
        Label::Int(v) => AttributeValue::N(v.to_string()),
        Label::Text(s) => AttributeValue::S(s.to_string()),
    }
}

/// A stored answer. A DynamoDB map keeps no order, so the classes come back sorted (the
/// order scikit-learn, LightGBM and XGBoost give them).
fn answer_from_item(item: &Item) -> Option<Answer> {
    if let Some(score) = item.get("score") {
        return Some(Answer::Score(score.as_n().ok()?.parse().ok()?));
    }
    let label = match item.get("label")? {
        AttributeValue::N(n) => Label::Int(n.parse().ok()?),
        AttributeValue::S(s) => Label::Text(s.as_str().into()),
        _ => return None,
    };
    let mut classes: Vec<(Label, f32)> = item
        .get("probabilities")?
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
        answer: answer_from_item(item)?,
        model_version: s("model_version")?.as_str().into(),
        run_id: s("run_id")?.as_str().into(),
        scored_at: s("scored_at")?.as_str().into(),
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

impl PredictionLookup for DynamoDbPredictions {
    async fn stored(&self, product_id: &str) -> Result<Option<Prediction>, StoreError> {
        match item_of(&self.client, &self.table, product_id).await? {
            None => Ok(None),
            Some(item) => prediction_from_item(&item).map(Some).ok_or_else(|| {
                StoreError::refused(format!(
                    "the item of product {product_id:?} in table {} is not a stored prediction",
                    self.table
                ))
            }),
        }
    }
}
