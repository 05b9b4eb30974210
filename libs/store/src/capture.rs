//! What the model saw and answered for a sampled scoring request: one captured request per
//! JSON line in the function's log, picked out by the log group's subscription filter and
//! delivered to S3 by Kinesis Data Firehose. Read back by the nightly accuracy join and by
//! the replay command. The format is this module's serde: the writer in the predict function
//! and the readers must round-trip through [`CapturedRequest`].

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::StoreError;

/// The value of every capture line's `capture` field: the subscription filter's pattern
/// (`{ $.capture = 1 }`) selects on it, and a reader refuses other versions.
pub const CAPTURE_FORMAT: u32 = 1;

/// The largest capture line written (bytes, newline included): under CloudWatch Logs' 256 KiB
/// event limit (262,144 bytes less 26 per event), with room to spare. A request whose capture
/// would be larger is written as several records, each with its `first_row`.
pub const MAX_CAPTURE_LINE: usize = 240 * 1024;

/// One scoring request, or a part of a large one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapturedRequest {
    /// Always [`CAPTURE_FORMAT`].
    pub capture: u32,
    /// The API Gateway request id (the `apigw-requestid` / `x-amzn-RequestId` header the
    /// caller got back, and the `x-request-id` header of the answer): what
    /// `POST /outcomes` refers to by `request_id`.
    pub request_id: String,
    /// When the request was answered: RFC 3339, UTC, milliseconds (`2026-12-07T21:30:00.123Z`).
    pub time: String,
    /// The route's template: `GET /predict/{product_id}`, `POST /predict`,
    /// `POST /v2/models/{name}/infer`.
    pub route: String,
    /// The model's name (`MODEL_NAME`).
    pub model: String,
    pub model_version: String,
    /// The challenger's version, when one was loaded and scored beside the champion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenger_version: Option<String>,
    /// The product scored, for `GET /predict/{product_id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// The request's index of `rows[0]` (non-zero only in the later parts of a request
    /// captured in several records).
    #[serde(default)]
    pub first_row: u32,
    pub rows: Vec<CapturedRow>,
}

/// One row: the features as the model read them (after the schema's reading: numbers as
/// numbers, categories as text, missing values as null; only the model's features, in the
/// model's order), and the answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapturedRow {
    pub features: Features,
    pub answer: CapturedAnswer,
    /// The challenger's answer for this row, when a challenger scored the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenger: Option<CapturedAnswer>,
}

/// Feature name to value, in the model's order. A JSON object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features(pub Vec<(String, CapturedValue)>);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CapturedValue {
    Number(f64),
    Text(String),
    /// Missing (also written for a NaN the model read as missing).
    Null,
}

/// What a row was answered: a score, a label with every class's probability, or why the
/// row had no answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CapturedAnswer {
    Score {
        score: f64,
    },
    Class {
        /// A number for an integer label, else text (as the API answers it).
        label: LabelValue,
        /// Class (as text) to probability, in the model's class order.
        probabilities: BTreeMap<String, f64>,
    },
    Error {
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LabelValue {
    Int(i64),
    Text(String),
}

impl std::fmt::Display for LabelValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LabelValue::Int(v) => write!(f, "{v}"),
            LabelValue::Text(t) => f.write_str(t),
        }
    }
}

impl Serialize for Features {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Features {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Features;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of feature name to number, text or null")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Features, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((name, value)) = map.next_entry::<String, CapturedValue>()? {
                    out.push((name, value));
                }
                Ok(Features(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

impl Features {
    /// The row as the domain's owned row, for scoring it again (replay).
    pub fn to_row(&self) -> scoring::Row {
        let mut row = scoring::Row::with_capacity(self.0.len());
        for (name, value) in &self.0 {
            row.insert(
                name.clone(),
                match value {
                    CapturedValue::Number(v) => scoring::Value::Number(*v),
                    CapturedValue::Text(t) => scoring::Value::Text(t.clone()),
                    CapturedValue::Null => scoring::Value::Null,
                },
            );
        }
        row
    }
}

/// Where captured requests are read back from.
pub trait CaptureSource: Send + Sync {
    /// Every captured request delivered at or after `since` (RFC 3339; by the delivered
    /// object's time, so a reader may see a few requests from before `since`, never miss
    /// one after), in no particular order. Lines that are not captures of
    /// [`CAPTURE_FORMAT`] are skipped and counted in the answer.
    fn captured_since(
        &self,
        since: &str,
    ) -> impl Future<Output = Result<Captured, StoreError>> + Send;
}

/// What a [`CaptureSource`] read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Captured {
    pub requests: Vec<CapturedRequest>,
    /// Lines or records that could not be read as captures (another format, truncated).
    pub unreadable: u64,
}

/// Captures held in memory: the tests' twin.
#[derive(Debug, Default)]
pub struct MemoryCaptures {
    pub requests: std::sync::Mutex<Vec<CapturedRequest>>,
}

impl CaptureSource for MemoryCaptures {
    async fn captured_since(&self, since: &str) -> Result<Captured, StoreError> {
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        Ok(Captured {
            requests: requests
                .iter()
                .filter(|r| r.time.as_str() >= since)
                .cloned()
                .collect(),
            unreadable: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_line_round_trips_with_features_in_order() {
        let line = r#"{"capture":1,"request_id":"r-1","time":"2026-12-07T21:30:00.123Z","route":"POST /predict","model":"wine","model_version":"v3","challenger_version":"v4","first_row":0,"rows":[{"features":{"b":1.5,"a":"red","c":null},"answer":{"score":5.25},"challenger":{"label":6,"probabilities":{"5":0.25,"6":0.75}}},{"features":{"b":2.0,"a":"white","c":3.0},"answer":{"error":"unknown category"}}]}"#;
        let read: CapturedRequest = serde_json::from_str(line).unwrap();
        assert_eq!(read.rows[0].features.0[0].0, "b");
        assert_eq!(
            read.rows[0].features.0[1].1,
            CapturedValue::Text("red".into())
        );
        assert_eq!(read.rows[0].features.0[2].1, CapturedValue::Null);
        assert_eq!(read.rows[0].answer, CapturedAnswer::Score { score: 5.25 });
        match &read.rows[0].challenger {
            Some(CapturedAnswer::Class {
                label,
                probabilities,
            }) => {
                assert_eq!(*label, LabelValue::Int(6));
                assert_eq!(probabilities["6"], 0.75);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(read.rows[1].answer, CapturedAnswer::Error { .. }));
        assert_eq!(read.product_id, None);
        let again: CapturedRequest =
            serde_json::from_str(&serde_json::to_string(&read).unwrap()).unwrap();
        assert_eq!(again, read);
        let row = read.rows[1].features.to_row();
        assert_eq!(row.get("a"), Some(&scoring::Value::Text("white".into())));
    }
}
