//! The delivered objects' bytes read as captured requests, whoever delivered them:
//! - Firehose as the template sets it up (CloudWatch Logs decompression and message
//!   extraction on): gzipped capture lines, one per line;
//! - Firehose without message extraction, and moto's Firehose, which ignores processing:
//!   CloudWatch Logs subscription envelopes (`{"messageType":"DATA_MESSAGE","logEvents":
//!   [{"message": "<line>"}...]}`), each gzipped by CloudWatch Logs, concatenated without
//!   separators, and possibly gzipped again by the stream.
//!
//! Each JSON value of an object is a capture line or an envelope; an envelope's messages
//! are the function's log lines, of which only the capture lines are kept (a subscription
//! filter that let others through, as moto's does, costs nothing but reading them). What
//! should have been a capture and cannot be read as one is counted, never an error for the
//! whole read.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Read;

use serde::Deserialize;
use serde_json::Value;
use store::capture::{Captured, CapturedRequest, CAPTURE_FORMAT};
use store::StoreError;

/// The largest object read, as stored and once decompressed: a Firehose buffer holds at
/// most 128 MiB, so anything larger is not one of its deliveries.
pub const MAX_OBJECT_BYTES: u64 = 256 * 1024 * 1024;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// CloudWatch Logs gzips its records and a delivery stream with GZIP compression gzips
/// their concatenation again: two layers, one more for good measure.
const MAX_GZIP_LAYERS: usize = 3;

/// Captured requests read from delivered objects, each request (or part of one) once:
/// Firehose delivers at least once, so a record may arrive twice.
#[derive(Debug)]
pub struct CaptureReader {
    /// The largest object read, as stored or decompressed.
    limit: u64,
    captured: Captured,
    seen: HashSet<(String, u32)>,
    duplicates: u64,
    other_lines: u64,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "messageType")]
    message_type: String,
    #[serde(rename = "logEvents", default)]
    log_events: Vec<LogEvent>,
}

#[derive(Deserialize)]
struct LogEvent {
    message: String,
}

impl Default for CaptureReader {
    fn default() -> Self {
        Self::with_limit(MAX_OBJECT_BYTES)
    }
}

impl CaptureReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// A reader refusing objects over `limit` bytes, as stored or decompressed.
    pub fn with_limit(limit: u64) -> Self {
        CaptureReader {
            limit,
            captured: Captured::default(),
            seen: HashSet::new(),
            duplicates: 0,
            other_lines: 0,
        }
    }

    /// Reads one delivered object (`name`, its key or path, for the error). Fails only on
    /// an object over the limit ([`MAX_OBJECT_BYTES`]), as stored or decompressed.
    pub fn read_object(&mut self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        if bytes.len() as u64 > self.limit {
            return Err(too_large(name, bytes.len() as u64, self.limit));
        }
        let mut data = Cow::Borrowed(bytes);
        for _ in 0..MAX_GZIP_LAYERS {
            if !data.starts_with(&GZIP_MAGIC) {
                break;
            }
            let (plain, corrupt) = gunzip(&data, self.limit);
            if plain.len() as u64 > self.limit {
                return Err(too_large(name, plain.len() as u64, self.limit));
            }
            if corrupt {
                // What came out before the damage is read; the rest is one unreadable record.
                self.captured.unreadable += 1;
                self.read_values(&plain);
                return Ok(());
            }
            data = Cow::Owned(plain);
        }
        self.read_values(&data);
        Ok(())
    }

    /// Requests read again (the same request id and first row), left out.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Log lines of envelopes that were not captures (EMF, logs), left out.
    pub fn other_lines(&self) -> u64 {
        self.other_lines
    }

    pub fn finish(self) -> Captured {
        self.captured
    }

    /// Every JSON value in `data`, concatenated or one per line. A value that does not
    /// parse costs the rest of its line.
    fn read_values(&mut self, mut data: &[u8]) {
        loop {
            let start = data
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(data.len());
            data = &data[start..];
            if data.is_empty() {
                return;
            }
            let mut values = serde_json::Deserializer::from_slice(data).into_iter::<Value>();
            match values.next() {
                Some(Ok(value)) => {
                    let used = values.byte_offset();
                    self.read_value(value);
                    data = &data[used..];
                }
                Some(Err(_)) => {
                    self.captured.unreadable += 1;
                    data = match data.iter().position(|&b| b == b'\n') {
                        Some(end) => &data[end + 1..],
                        None => &[],
                    };
                }
                None => return,
            }
        }
    }

    fn read_value(&mut self, value: Value) {
        let Value::Object(map) = &value else {
            self.captured.unreadable += 1;
            return;
        };
        if map.contains_key("messageType") {
            match Envelope::deserialize(value) {
                Ok(envelope) if envelope.message_type == "DATA_MESSAGE" => {
                    for event in envelope.log_events {
                        self.read_line(&event.message);
                    }
                }
                // CloudWatch Logs checking that the destination is reachable.
                Ok(envelope) if envelope.message_type == "CONTROL_MESSAGE" => {}
                _ => self.captured.unreadable += 1,
            }
        } else if map.contains_key("capture") {
            match CapturedRequest::deserialize(value) {
                Ok(request) => self.keep(request),
                Err(_) => self.captured.unreadable += 1,
            }
        } else {
            self.captured.unreadable += 1;
        }
    }

    /// One log line of the function: a capture line, or another line to leave out. A line
    /// that should have been a capture (an object with a `capture` member, or a truncated
    /// line that began like one) and cannot be read as one is unreadable.
    fn read_line(&mut self, line: &str) {
        let line = line.trim();
        if !line.contains("\"capture\"") {
            self.other_lines += 1;
            return;
        }
        if let Ok(request) = serde_json::from_str::<CapturedRequest>(line) {
            return self.keep(request);
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) if map.contains_key("capture") => self.captured.unreadable += 1,
            Ok(_) => self.other_lines += 1,
            Err(_) if line.starts_with("{\"capture\"") => self.captured.unreadable += 1,
            Err(_) => self.other_lines += 1,
        }
    }

    fn keep(&mut self, request: CapturedRequest) {
        if request.capture != CAPTURE_FORMAT {
            self.captured.unreadable += 1;
        } else if self
            .seen
            .insert((request.request_id.clone(), request.first_row))
        {
            self.captured.requests.push(request);
        } else {
            self.duplicates += 1;
        }
    }
}

/// Every gzip member of `data`, decompressed (at most one byte over the limit), and
/// whether the data was damaged.
fn gunzip(data: &[u8], limit: u64) -> (Vec<u8>, bool) {
    let mut plain = Vec::new();
    let corrupt = flate2::read::MultiGzDecoder::new(data)
        .take(limit + 1)
        .read_to_end(&mut plain)
        .is_err();
    (plain, corrupt)
}

fn too_large(name: &str, bytes: u64, limit: u64) -> StoreError {
    StoreError {
        kind: store::ErrorKind::TooLarge { bytes },
        message: format!(
            "{name} holds at least {bytes} bytes (as stored or decompressed), over the limit of \
             {limit}: not a capture delivery; remove it or read it apart"
        ),
    }
}

#[cfg(test)]
mod tests;
