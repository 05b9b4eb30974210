//! Capture: what the model read and answered for a sampled scoring request, written as
//! one JSON line (`store::capture`'s format) in one write to the sink, which in Lambda is
//! stdout: the function's log, from which a subscription filter (`{ $.capture = 1 }`)
//! hands the lines to Kinesis Data Firehose and on to the capture bucket. No network call
//! on the request path; a line that cannot be written is counted (`CapturesDropped`),
//! logged once per sandbox, and the answer goes out as it would have.
//!
//! A request whose line would be longer than [`MAX_CAPTURE_LINE`] is written as several
//! records, each with the index of its first row (`first_row`); a row too long for a line
//! of its own is dropped and counted, and the next row starts a new record.
//!
//! This module knows the format and the sink; the handlers say what was scored.

mod format;
mod sample;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use aws_adapter::config::CaptureRate;
use metrics::{counter, Counter};
use scoring::{Batch, Model, Scored};
use store::capture::{CAPTURE_FORMAT, MAX_CAPTURE_LINE};

use crate::challenger::ChallengerAnswers;
use crate::telemetry::names::{CAPTURES_DROPPED, CAPTURES_WRITTEN};
use format::{open_record, Header, RowOut, CLOSE};
pub use sample::Sampler;

/// The function's capture: its rate, its sink, and the buffers reused request after
/// request.
pub struct Capture {
    sampler: Sampler,
    lines: Mutex<Lines>,
    /// The longest line written, newline included.
    limit: usize,
    /// Written, dropped; registered at first use (after the recorder is installed).
    metrics: OnceLock<[Counter; 2]>,
    warned_unwritten: AtomicBool,
    warned_too_long: AtomicBool,
}

struct Lines {
    sink: Box<dyn Write + Send>,
    line: Vec<u8>,
    row: Vec<u8>,
}

/// A sampled request, as its records' header names it.
#[derive(Debug, Clone, Copy)]
pub struct CaptureRequest<'a> {
    pub request_id: &'a str,
    /// The route's template (`ROUTE_NAMES`).
    pub route: &'static str,
    /// The model's name (`MODEL_NAME`).
    pub model: &'a str,
    /// `GET /predict/{product_id}`'s product.
    pub product_id: Option<&'a str>,
}

/// A sampled request's capture, as a handler writes it once the model has answered.
#[derive(Clone, Copy)]
pub struct Capturing<'a> {
    pub capture: &'a Capture,
    pub request: CaptureRequest<'a>,
}

impl Capturing<'_> {
    pub fn write(&self, rows: &Rows<'_>) -> Written {
        self.capture.write(&self.request, rows)
    }
}

/// What was scored: the answering model, the batch it read, its answers, and the
/// challenger's answers when a challenger scored the request beside it.
pub struct Rows<'a> {
    pub model: &'a Model,
    pub batch: &'a Batch,
    pub scored: &'a Scored,
    pub challenger: Option<&'a ChallengerAnswers<'a>>,
}

/// A capture's count of records written and of records (or rows) dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub records: u64,
    pub dropped: u64,
}

impl Capture {
    /// No capture: nothing is sampled, nothing written.
    pub fn off() -> Capture {
        Capture::new(CaptureRate::OFF, std::io::sink())
    }

    /// Captures `rate` of the scoring requests into `sink`, a line per write.
    pub fn new(rate: CaptureRate, sink: impl Write + Send + 'static) -> Capture {
        Capture {
            sampler: Sampler::new(rate),
            lines: Mutex::new(Lines {
                sink: Box::new(sink),
                line: Vec::new(),
                row: Vec::new(),
            }),
            limit: MAX_CAPTURE_LINE,
            metrics: OnceLock::new(),
            warned_unwritten: AtomicBool::new(false),
            warned_too_long: AtomicBool::new(false),
        }
    }

    /// The same capture with lines of at most `limit` bytes (tests: a small limit tries
    /// the split without megabytes of rows).
    pub fn with_line_limit(self, limit: usize) -> Capture {
        Capture { limit, ..self }
    }

    /// Whether the request `request_id` is captured.
    pub fn sampled(&self, request_id: &str) -> bool {
        self.sampler.sampled(request_id)
    }

    pub fn is_off(&self) -> bool {
        self.sampler == Sampler::Never
    }

    /// Writes the capture of `request`'s `rows`, and counts it in the metrics.
    pub fn write(&self, request: &CaptureRequest<'_>, rows: &Rows<'_>) -> Written {
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let header = |first_row| Header {
            capture: CAPTURE_FORMAT,
            request_id: request.request_id,
            time: &time,
            route: request.route,
            model: request.model,
            model_version: rows.model.version(),
            challenger_version: rows.challenger.map(|c| c.version),
            product_id: request.product_id,
            first_row,
        };
        let mut written = Written::default();
        let mut too_long = 0u64;
        let mut guard = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let Lines { sink, line, row } = &mut *guard;
        line.clear();
        // Rows in the open record.
        let mut open = 0usize;
        for i in 0..rows.scored.rows() {
            row.clear();
            let out = RowOut {
                schema: rows.model.schema(),
                batch: rows.batch,
                scored: rows.scored,
                challenger: rows.challenger,
                row: i,
            };
            if serde_json::to_writer(&mut *row, &out).is_err() {
                // Only a row outside the batch fails, which a scored batch does not have.
                too_long += 1;
                continue;
            }
            if open > 0 && line.len() + 1 + row.len() + CLOSE.len() > self.limit {
                self.finish(sink, line, &mut written);
                open = 0;
            }
            if open == 0 {
                open_record(line, &header(i));
                if line.len() + row.len() + CLOSE.len() > self.limit {
                    // Alone over the limit: dropped, and the next row opens a record of
                    // its own, so that `first_row` still numbers the rows that follow.
                    line.clear();
                    too_long += 1;
                    continue;
                }
            } else {
                line.push(b',');
            }
            line.extend_from_slice(row);
            open += 1;
        }
        if open > 0 {
            self.finish(sink, line, &mut written);
        }
        drop(guard);
        if too_long > 0 && !self.warned_too_long.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                request_id = request.request_id,
                rows = too_long,
                limit = self.limit,
                "a captured row is too long for a capture line: dropped (counted in \
                 CapturesDropped; logged once per cold start)"
            );
        }
        written.dropped += too_long;
        let [records, dropped] = self
            .metrics
            .get_or_init(|| [counter!(CAPTURES_WRITTEN), counter!(CAPTURES_DROPPED)]);
        records.increment(written.records);
        dropped.increment(written.dropped);
        written
    }

    /// Closes the open record in `line`, writes it, and empties `line`.
    fn finish(&self, sink: &mut Box<dyn Write + Send>, line: &mut Vec<u8>, written: &mut Written) {
        line.extend_from_slice(CLOSE);
        match sink.write_all(line) {
            Ok(()) => written.records += 1,
            Err(e) => {
                written.dropped += 1;
                if !self.warned_unwritten.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        error = %e,
                        "a capture could not be written: dropped (counted in \
                         CapturesDropped; logged once per cold start)"
                    );
                }
            }
        }
        line.clear();
    }
}

#[cfg(test)]
mod tests;
