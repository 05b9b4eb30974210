//! A `POST /outcomes` body read into outcomes, or refused with the first problem, named by
//! its entry and field (`outcomes[3].observed_at: ...`). Nothing is written unless every
//! entry is valid: a batch is taken whole or not at all.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Map, Value};
use store::outcomes::{Observed, Outcome, Subject};

use crate::http::limits::MAX_PRODUCT_ID_BYTES;
use crate::http::ApiError;

/// Most outcomes in one request.
pub const MAX_OUTCOMES: usize = 1000;

/// The longest product id: the table's key holds it after a two-byte prefix (`p#`), within
/// DynamoDB's key limit.
pub const MAX_OUTCOME_PRODUCT_ID_BYTES: usize = MAX_PRODUCT_ID_BYTES - 2;

/// The longest request id (API Gateway's are 36 characters or so).
pub const MAX_REQUEST_ID_BYTES: usize = 1024;

/// The longest label.
pub const MAX_LABEL_BYTES: usize = 1024;

/// The largest magnitude of a numeric outcome: DynamoDB stores numbers up to 9.99e125.
pub const MAX_OUTCOME_MAGNITUDE: f64 = 1e125;

/// How far in the future an `observed_at` may be: clocks disagree by a little.
pub const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

/// The earliest `observed_at`.
pub const EARLIEST: &str = "2000-01-01T00:00:00Z";

const FIELDS: &str = "product_id or request_id (with an optional row), outcome and observed_at";

const SHAPE: &str = "[{\"product_id\": \"...\", \"outcome\": <number or label>, \"observed_at\": \
                     \"<RFC 3339 time>\"}, ...] or {\"outcomes\": [...]}";

/// A batch refused: the answer, and how many entries it held (as far as they could be
/// counted), for the `OutcomesRefused` metric.
#[derive(Debug)]
pub struct Refused {
    pub error: ApiError,
    pub entries: usize,
}

/// The outcomes of `body`, received at `now`.
pub fn outcomes(body: &[u8], now: DateTime<Utc>) -> Result<Vec<Outcome>, Refused> {
    let refused = |message: String, entries| Refused {
        error: ApiError::bad_request(message),
        entries,
    };
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| refused(format!("the body must be JSON like {SHAPE}: {e}"), 1))?;
    let entries = match value {
        Value::Array(entries) => entries,
        Value::Object(mut object) => match object.remove("outcomes") {
            Some(Value::Array(entries)) if object.is_empty() => entries,
            Some(Value::Array(_)) => {
                let extra = object.keys().next().map_or("", String::as_str);
                return Err(refused(
                    format!("{extra}: unknown field; the body takes only \"outcomes\""),
                    1,
                ));
            }
            Some(_) => return Err(refused("outcomes must be a list".into(), 1)),
            None => return Err(refused(format!("the body must be {SHAPE}"), 1)),
        },
        _ => return Err(refused(format!("the body must be {SHAPE}"), 1)),
    };
    match entries.len() {
        0 => return Err(refused("no outcomes; send 1 to 1000".into(), 0)),
        n if n > MAX_OUTCOMES => {
            return Err(Refused {
                error: ApiError::too_large(format!(
                    "{n} outcomes; at most {MAX_OUTCOMES} per request"
                )),
                entries: n,
            })
        }
        _ => {}
    }
    let received_at = now.to_rfc3339_opts(SecondsFormat::Millis, true);
    let latest = now + CLOCK_SKEW;
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            entry_of(entry, &received_at, latest)
                .map_err(|why| refused(format!("outcomes[{i}]{why}"), entries.len()))
        })
        .collect()
}

/// One entry, or why not, as `.field: problem` or `: problem`.
fn entry_of(entry: &Value, received_at: &str, latest: DateTime<Utc>) -> Result<Outcome, String> {
    let Value::Object(entry) = entry else {
        return Err(format!(": must be a JSON object with {FIELDS}"));
    };
    if let Some(unknown) = entry.keys().find(|k| {
        !matches!(
            k.as_str(),
            "product_id" | "request_id" | "row" | "outcome" | "observed_at"
        )
    }) {
        return Err(format!(
            ".{unknown}: unknown field; an outcome takes {FIELDS}"
        ));
    }
    let subject = subject(entry)?;
    let observed = match entry.get("outcome") {
        None => return Err(".outcome: missing; a number or a label".into()),
        Some(v) => observed(v).map_err(|why| format!(".outcome: {why}"))?,
    };
    let observed_at = match entry.get("observed_at") {
        None => return Err(".observed_at: missing; an RFC 3339 time with its offset".into()),
        Some(v) => observed_at(v, latest).map_err(|why| format!(".observed_at: {why}"))?,
    };
    Ok(Outcome {
        subject,
        observed,
        observed_at,
        received_at: received_at.to_owned(),
    })
}

fn subject(entry: &Map<String, Value>) -> Result<Subject, String> {
    let text = |field: &str, max: usize| -> Result<String, String> {
        match &entry[field] {
            Value::String(s) if s.is_empty() => Err(format!(".{field}: is empty")),
            Value::String(s) if s.len() > max => {
                Err(format!(".{field}: is {} bytes; at most {max}", s.len()))
            }
            Value::String(s) => Ok(s.clone()),
            other => Err(format!(".{field}: must be a string, not {}", kind(other))),
        }
    };
    match (
        entry.contains_key("product_id"),
        entry.contains_key("request_id"),
    ) {
        (true, true) => Err(": has both product_id and request_id; give exactly one".into()),
        (false, false) => Err(": needs product_id or request_id".into()),
        (true, false) => {
            if entry.contains_key("row") {
                return Err(".row: only with request_id (a product is one row)".into());
            }
            Ok(Subject::Product(text(
                "product_id",
                MAX_OUTCOME_PRODUCT_ID_BYTES,
            )?))
        }
        (false, true) => {
            let id = text("request_id", MAX_REQUEST_ID_BYTES)?;
            let row = match entry.get("row") {
                None => 0,
                Some(Value::Number(n)) => n
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        format!(".row: must be an integer from 0 to {}, not {n}", u32::MAX)
                    })?,
                Some(other) => {
                    return Err(format!(
                        ".row: must be an integer from 0, not {}",
                        kind(other)
                    ))
                }
            };
            Ok(Subject::Request { id, row })
        }
    }
}

fn observed(v: &Value) -> Result<Observed, String> {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(x) if x.is_finite() && x.abs() <= MAX_OUTCOME_MAGNITUDE => Ok(Observed::Number(x)),
            _ => Err(format!(
                "{n} is out of range; a number's magnitude is at most {MAX_OUTCOME_MAGNITUDE:e}"
            )),
        },
        Value::String(s) if s.trim().is_empty() => {
            Err("is an empty label; a label has at least one character".into())
        }
        Value::String(s) if s.len() > MAX_LABEL_BYTES => Err(format!(
            "is a label of {} bytes; at most {MAX_LABEL_BYTES}",
            s.len()
        )),
        Value::String(s) => Ok(Observed::Label(s.clone())),
        other => Err(format!(
            "must be a number or a label (a string), not {}",
            kind(other)
        )),
    }
}

/// RFC 3339 with its offset, from [`EARLIEST`] to `latest`, as UTC milliseconds.
fn observed_at(v: &Value, latest: DateTime<Utc>) -> Result<String, String> {
    let Value::String(text) = v else {
        return Err(format!(
            "must be an RFC 3339 time (a string), not {}",
            kind(v)
        ));
    };
    let shown = if text.len() <= 64 {
        text.as_str()
    } else {
        "(a long string)"
    };
    let at = DateTime::parse_from_rfc3339(text)
        .map_err(|e| {
            format!(
                "{shown:?} is not an RFC 3339 time with an offset, like \
                 2026-12-07T21:30:00Z or 2026-12-07T22:30:00+01:00 ({e})"
            )
        })?
        .with_timezone(&Utc);
    let earliest = DateTime::parse_from_rfc3339(EARLIEST).expect("a valid time");
    if at < earliest {
        return Err(format!("{shown:?} is before {EARLIEST}"));
    }
    if at > latest {
        return Err(format!(
            "{shown:?} is in the future (more than {} minutes after now, {}); an outcome is \
             what happened",
            CLOCK_SKEW.num_minutes(),
            (latest - CLOCK_SKEW).to_rfc3339_opts(SecondsFormat::Secs, true)
        ));
    }
    Ok(at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
