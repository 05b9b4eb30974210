//! The outcomes table: one item per subject and `observed_at` (a later one for the same
//! pair replaces the earlier), written with BatchWriteItem; read back by arrival through the
//! `by_arrival` index (partition `received_on`, the day; sort `received_at`), one Query per
//! day, the days queried a few at a time. DynamoDB's TTL deletes an item at `expires_at`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::{DateTime, Days, NaiveDate, Utc};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use store::outcomes::{Observed, Outcome, OutcomeSink, OutcomeSource, Subject, MAX_WRITE};
use store::StoreError;

use super::item::Item;
use super::predictions::number;
use crate::errors::store_error;

/// The index outcomes are read back through, by the day and time they arrived.
pub const BY_ARRIVAL: &str = "by_arrival";

/// The longest range of days [`OutcomeSource::arrived`] reads in one call: a nightly run
/// reads a day or a few; a range longer than the longest retention is a mistake.
pub const MAX_ARRIVAL_DAYS: u64 = 400;

/// Days queried at once: enough to hide a Query's latency, few enough not to throttle.
const DAYS_AT_ONCE: usize = 8;

const SUBJECT: &str = "subject";
const OBSERVED_AT: &str = "observed_at";
const OUTCOME_N: &str = "outcome_n";
const OUTCOME_S: &str = "outcome_s";
const RECEIVED_AT: &str = "received_at";
const RECEIVED_ON: &str = "received_on";
const EXPIRES_AT: &str = "expires_at";

/// `p#<product_id>` or `r#<request_id>#<row>`: one key for both kinds of subject.
fn subject_key(subject: &Subject) -> String {
    match subject {
        Subject::Product(id) => format!("p#{id}"),
        Subject::Request { id, row } => format!("r#{id}#{row}"),
    }
}

fn subject_of(key: &str) -> Option<Subject> {
    if let Some(id) = key.strip_prefix("p#") {
        return Some(Subject::Product(id.to_owned()));
    }
    // The row is after the last '#': a request id may hold '#' itself.
    let (id, row) = key.strip_prefix("r#")?.rsplit_once('#')?;
    Some(Subject::Request {
        id: id.to_owned(),
        row: row.parse().ok()?,
    })
}

/// The item of `outcome`, kept `retention_days` after it was received. `received_at` must be
/// RFC 3339 (its first ten characters are the day of the arrival index).
pub fn outcome_item(outcome: &Outcome, retention_days: u32) -> Result<Item, StoreError> {
    let received = DateTime::parse_from_rfc3339(&outcome.received_at).map_err(|e| {
        StoreError::refused(format!(
            "received_at {:?} is not RFC 3339: {e}",
            outcome.received_at
        ))
    })?;
    let received = received.with_timezone(&Utc);
    let expires_at = received.timestamp() + i64::from(retention_days) * 86_400;
    let (name, value) = match &outcome.observed {
        Observed::Number(n) => (OUTCOME_N, AttributeValue::N(number(*n))),
        Observed::Label(s) => (OUTCOME_S, AttributeValue::S(s.clone())),
    };
    let s = |v: &str| AttributeValue::S(v.to_owned());
    Ok(Item::from([
        (SUBJECT.to_owned(), s(&subject_key(&outcome.subject))),
        (OBSERVED_AT.to_owned(), s(&outcome.observed_at)),
        (name.to_owned(), value),
        (RECEIVED_AT.to_owned(), s(&outcome.received_at)),
        (
            RECEIVED_ON.to_owned(),
            s(&received.format("%Y-%m-%d").to_string()),
        ),
        (
            EXPIRES_AT.to_owned(),
            AttributeValue::N(expires_at.to_string()),
        ),
    ]))
}

/// A stored outcome, or `None` if the item is not one.
pub fn outcome_from_item(item: &Item) -> Option<Outcome> {
    let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok());
    let observed = match (item.get(OUTCOME_N), s(OUTCOME_S)) {
        (Some(n), None) => Observed::Number(n.as_n().ok()?.parse().ok()?),
        (None, Some(label)) => Observed::Label(label.clone()),
        _ => return None,
    };
    Some(Outcome {
        subject: subject_of(s(SUBJECT)?)?,
        observed,
        observed_at: s(OBSERVED_AT)?.clone(),
        received_at: s(RECEIVED_AT)?.clone(),
    })
}

/// The key of an item, as written.
fn key_of(item: &Item) -> Option<(&str, &str)> {
    let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).map(String::as_str);
    Some((s(SUBJECT)?, s(OBSERVED_AT)?))
}

pub struct DynamoDbOutcomes {
    client: aws_sdk_dynamodb::Client,
    table: String,
    retention_days: u32,
    /// Items per Query page (`None`: DynamoDB's own, up to 1 MB).
    page_limit: Option<i32>,
}

impl DynamoDbOutcomes {
    /// Outcomes written to `table` are deleted by its TTL `retention_days` after they
    /// arrived.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        retention_days: u32,
    ) -> Self {
        DynamoDbOutcomes {
            client,
            table: table.into(),
            retention_days,
            page_limit: None,
        }
    }

    /// At most `items` per Query page (tests: many pages from few items).
    pub fn with_page_limit(self, items: i32) -> Self {
        DynamoDbOutcomes {
            page_limit: Some(items),
            ..self
        }
    }

    /// Every outcome received on `day` in `[since, until)`, page by page.
    async fn arrived_on(
        &self,
        day: String,
        since: &str,
        until: &str,
    ) -> Result<Vec<Outcome>, StoreError> {
        let mut outcomes = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_ARRIVAL)
                .key_condition_expression("#day = :day AND #at BETWEEN :since AND :until")
                .expression_attribute_names("#day", RECEIVED_ON)
                .expression_attribute_names("#at", RECEIVED_AT)
                .expression_attribute_values(":day", AttributeValue::S(day.clone()))
                .expression_attribute_values(":since", AttributeValue::S(since.to_owned()))
                .expression_attribute_values(":until", AttributeValue::S(until.to_owned()))
                .set_limit(self.page_limit)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| {
                    store_error(
                        &format!("Query on index {BY_ARRIVAL} of table {}", self.table),
                        e,
                    )
                })?;
            for item in out.items.unwrap_or_default() {
                match outcome_from_item(&item) {
                    // BETWEEN takes `until` too; the range does not.
                    Some(o) if o.received_at.as_str() < until => outcomes.push(o),
                    Some(_) => {}
                    // Not ours to fix here, and not a reason to lose the others.
                    None => tracing::warn!(
                        table = self.table,
                        key = ?key_of(&item),
                        "an item of the outcomes table is not an outcome; skipped"
                    ),
                }
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(outcomes),
            }
        }
    }
}

/// `t` as `received_at` is written (UTC, milliseconds), so that text order is time order
/// (`...:00Z` sorts after `...:00.000Z`), and the day of the millisecond `offset_ms` from it.
fn as_written(t: &str, offset_ms: i64) -> Result<(String, NaiveDate), StoreError> {
    let parsed = DateTime::parse_from_rfc3339(t)
        .map_err(|e| StoreError::refused(format!("{t:?} is not an RFC 3339 time: {e}")))?
        .with_timezone(&Utc);
    Ok((
        parsed.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        (parsed + chrono::TimeDelta::milliseconds(offset_ms)).date_naive(),
    ))
}

/// The days (`YYYY-MM-DD`) from `first` to `last`, at most [`MAX_ARRIVAL_DAYS`].
fn days(
    (since, first): (&str, NaiveDate),
    (until, last): (&str, NaiveDate),
) -> Result<Vec<String>, StoreError> {
    let span = (last - first).num_days();
    if span + 1 > MAX_ARRIVAL_DAYS as i64 {
        return Err(StoreError::refused(format!(
            "outcomes arrived from {since} to {until} span {} days; read at most \
             {MAX_ARRIVAL_DAYS} at a time",
            span + 1
        )));
    }
    Ok((0..=span.max(0) as u64)
        .filter_map(|d| first.checked_add_days(Days::new(d)))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .collect())
}

/// Those of `batch` whose key is among `unprocessed` (BatchWriteItem's, for this table).
fn unwritten(batch: &[Outcome], unprocessed: &[WriteRequest]) -> Vec<Outcome> {
    let keys: Vec<(&str, &str)> = unprocessed
        .iter()
        .filter_map(|r| key_of(&r.put_request.as_ref()?.item))
        .collect();
    batch
        .iter()
        .filter(|o| {
            let subject = subject_key(&o.subject);
            keys.contains(&(subject.as_str(), o.observed_at.as_str()))
        })
        .cloned()
        .collect()
}

/// `batch` with one outcome per key, the last given: BatchWriteItem refuses a request that
/// names a key twice, and a later outcome replaces an earlier one anyway.
fn last_per_key(batch: &[Outcome]) -> Vec<&Outcome> {
    let mut last: HashMap<(String, &str), usize> = HashMap::new();
    for (i, o) in batch.iter().enumerate() {
        last.insert((subject_key(&o.subject), o.observed_at.as_str()), i);
    }
    let mut kept: Vec<usize> = last.into_values().collect();
    kept.sort_unstable();
    kept.into_iter().map(|i| &batch[i]).collect()
}

impl OutcomeSink for DynamoDbOutcomes {
    async fn put(&self, batch: &[Outcome]) -> Result<Vec<Outcome>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        if batch.len() > MAX_WRITE {
            return Err(StoreError::refused(format!(
                "{} outcomes in one BatchWriteItem (limit {MAX_WRITE})",
                batch.len()
            )));
        }
        let requests = last_per_key(batch)
            .into_iter()
            .map(|o| {
                let put = PutRequest::builder()
                    .set_item(Some(outcome_item(o, self.retention_days)?))
                    .build()
                    .expect("a PutRequest with an item builds");
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let out = self
            .client
            .batch_write_item()
            .request_items(&self.table, requests)
            .send()
            .await
            .map_err(|e| store_error(&format!("BatchWriteItem to table {}", self.table), e))?;
        let unprocessed = out
            .unprocessed_items
            .and_then(|mut u| u.remove(&self.table))
            .unwrap_or_default();
        Ok(unwritten(batch, &unprocessed))
    }
}

impl OutcomeSource for DynamoDbOutcomes {
    async fn arrived(&self, since: &str, until: &str) -> Result<Vec<Outcome>, StoreError> {
        let (since, first) = as_written(since, 0)?;
        // The range ends before `until`: a midnight `until` reads no day of its own.
        let (until, last) = as_written(until, -1)?;
        if since >= until {
            return Ok(Vec::new());
        }
        let days = days((&since, first), (&until, last))?;
        let per_day: Vec<Vec<Outcome>> = stream::iter(days)
            .map(|day| self.arrived_on(day, &since, &until))
            .buffer_unordered(DAYS_AT_ONCE)
            .try_collect()
            .await?;
        Ok(per_day.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests;
