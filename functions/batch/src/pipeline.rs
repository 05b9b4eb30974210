//! scan -> score -> write, with bounded memory: each segment holds one Scan page at a time
//! (DynamoDB pages are at most 1 MB), scores it in batches of `score_batch` rows per model
//! call, and writes the results 25 a request with `writes_in_flight` requests at once.
//! Unprocessed items and retryable errors are retried with exponential backoff and full
//! jitter until written, or the run fails after `max_attempts`: nothing is dropped.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use scoring::Model;
use aws_adapter::attributes::PRODUCT_ID;
use aws_adapter::aws_sdk_dynamodb::types::AttributeValue;
use aws_adapter::predictions::{Prediction, PredictionSink, MAX_BATCH};
use aws_adapter::retry::Failure;
use aws_adapter::scan::AttributeScan;

use crate::run::{RunState, SegmentState, Totals};

/// Items per Scan page (the Scan's `Limit`). DynamoDB's own cap, 1 MB, is ~5,800 wine
/// rows; pages of 1,000 keep each segment's page in cache while it is scored and written,
/// which measured 1.8x faster end to end (benches/pipeline.rs) for 6x the Scan calls.
pub const SCAN_PAGE_ITEMS: usize = 1000;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Rows per model call.
    pub score_batch: usize,
    /// BatchWriteItem requests in flight per segment.
    pub writes_in_flight: usize,
    pub retry: RetryPolicy,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            score_batch: 500,
            writes_in_flight: 4,
            retry: RetryPolicy::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per call, the first included, before the run fails.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// Full jitter: uniform in [0, min(max_delay, base * 2^attempt)].
    fn delay(&self, attempt: u32) -> Duration {
        static DRAWS: AtomicU64 = AtomicU64::new(0);
        let ceiling = self
            .base_delay
            .saturating_mul(1 << attempt.min(20))
            .min(self.max_delay);
        let draw = RandomState::new().hash_one(DRAWS.fetch_add(1, Ordering::Relaxed));
        ceiling.mul_f64((draw % 10_000) as f64 / 10_000.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("{what} still failing after {attempts} attempts: {last}")]
    GaveUp {
        what: String,
        attempts: u32,
        last: String,
    },
    #[error("{0}")]
    Fatal(String),
}

pub struct Pipeline<'a, S, P> {
    pub model: &'a Model,
    pub scan: &'a S,
    pub sink: &'a P,
    pub settings: Settings,
}

/// What every result item of a run carries besides its id and score, shared by all.
struct Stamp {
    model_version: Arc<str>,
    run_id: Arc<str>,
    scored_at: Arc<str>,
}

/// What one invocation's work leaves behind.
pub struct Progress {
    pub segments: Vec<SegmentState>,
    pub totals: Totals,
}

impl<S: AttributeScan, P: PredictionSink> Pipeline<'_, S, P> {
    /// Works on every unfinished segment of `state` concurrently until each is done or
    /// `stop_at` has passed (checked between pages: a page once read is always finished,
    /// and every unfinished segment reads at least one page).
    pub async fn run(
        &self,
        state: &RunState,
        scored_at: &str,
        stop_at: Option<Instant>,
    ) -> Result<Progress, RunError> {
        let total = state.segments.len() as u32;
        let stamp = Stamp {
            model_version: self.model.version().into(),
            run_id: state.run_id.as_str().into(),
            scored_at: scored_at.into(),
        };
        let results = futures_util::future::join_all(
            state
                .segments
                .iter()
                .cloned()
                .map(|s| self.segment(s, total, &stamp, stop_at)),
        )
        .await;
        let mut progress = Progress {
            segments: Vec::new(),
            totals: Totals::default(),
        };
        for result in results {
            let (segment, totals) = result?;
            progress.segments.push(segment);
            progress.totals.add(totals);
        }
        Ok(progress)
    }

    async fn segment(
        &self,
        mut segment: SegmentState,
        total: u32,
        stamp: &Stamp,
        stop_at: Option<Instant>,
    ) -> Result<(SegmentState, Totals), RunError> {
        let mut totals = Totals::default();
        // At least one page per invocation, so a run always progresses however little
        // time is left; then pages only while time remains.
        let what = format!("scan segment {} of {total}", segment.segment);
        let mut first = true;
        while !segment.done && (first || stop_at.is_none_or(|t| Instant::now() < t)) {
            first = false;
            let page = self
                .retrying(&what, &mut totals.retries, || {
                    self.scan
                        .page(segment.segment, total, segment.after.as_deref())
                })
                .await?;
            totals.scanned += page.items.len() as u64;
            // The page is consumed here: its items are gone before the writes are awaited,
            // so at most one page is held at a time whatever the number of segments.
            let predictions = self.score(page.items, stamp, &mut totals)?;
            totals.scored += predictions.len() as u64;
            let (written, retries) = self.write(&predictions).await?;
            totals.written += written;
            totals.retries += retries;
            segment.done = page.next.is_none();
            segment.after = page.next.or(segment.after);
        }
        Ok((segment, totals))
    }

    /// Valid rows become predictions; invalid ones are counted with their reason. Each item
    /// is dropped as soon as it is read (while still in cache) and its id moved, not copied.
    fn score(
        &self,
        items: Vec<aws_adapter::item::Item>,
        stamp: &Stamp,
        totals: &mut Totals,
    ) -> Result<Vec<Prediction>, RunError> {
        let schema = self.model.schema();
        let batch = self.settings.score_batch.max(1);
        let mut predictions = Vec::with_capacity(items.len());
        let mut x = Vec::with_capacity(batch.min(items.len()) * schema.len());
        let mut ids = Vec::with_capacity(batch.min(items.len()));
        let mut items = items.into_iter();
        while items.len() > 0 {
            x.clear();
            for mut item in items.by_ref().take(batch) {
                let read = schema.read_row(&item, &mut x);
                let Some(AttributeValue::S(id)) = item.0.remove(PRODUCT_ID) else {
                    if read.is_ok() {
                        x.truncate(x.len() - schema.len());
                    }
                    totals.reject("", format!("an item has no string {PRODUCT_ID}"));
                    continue;
                };
                match read {
                    Ok(()) => ids.push(id),
                    Err(e) => totals.reject(&id, e.to_string()),
                }
            }
            let scores = self
                .model
                .score_matrix(&x)
                .map_err(|e| RunError::Fatal(format!("scoring failed: {e}")))?;
            for (id, score) in ids.drain(..).zip(scores) {
                if !score.is_finite() {
                    totals.reject(
                        &id,
                        format!("the model produced a non-finite score ({score})"),
                    );
                    continue;
                }
                predictions.push(Prediction {
                    product_id: id,
                    score,
                    model_version: stamp.model_version.clone(),
                    run_id: stamp.run_id.clone(),
                    scored_at: stamp.scored_at.clone(),
                });
            }
        }
        Ok(predictions)
    }

    /// Writes every prediction: (written, retries).
    async fn write(&self, predictions: &[Prediction]) -> Result<(u64, u64), RunError> {
        stream::iter(predictions.chunks(MAX_BATCH))
            .map(|chunk| self.write_chunk(chunk))
            .buffer_unordered(self.settings.writes_in_flight.max(1))
            .try_fold(
                (0, 0),
                |(w, r), (w2, r2)| async move { Ok((w + w2, r + r2)) },
            )
            .await
    }

    async fn write_chunk(&self, chunk: &[Prediction]) -> Result<(u64, u64), RunError> {
        // What is left to write once a call leaves some unprocessed; until then, the chunk
        // itself (no copy on the common path).
        let mut unprocessed_so_far: Option<Vec<Prediction>> = None;
        let mut retries = 0;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let pending = unprocessed_so_far.as_deref().unwrap_or(chunk);
            let sent = pending.len();
            let last = match self.sink.write(pending).await {
                Ok(unprocessed) if unprocessed.is_empty() => {
                    return Ok((chunk.len() as u64, retries))
                }
                Ok(unprocessed) => {
                    let last = format!("{} of {sent} items unprocessed", unprocessed.len());
                    unprocessed_so_far = Some(unprocessed);
                    last
                }
                Err(f) if f.retryable => f.message,
                Err(f) => return Err(RunError::Fatal(f.message)),
            };
            if attempt >= self.settings.retry.max_attempts {
                let pending = unprocessed_so_far.as_deref().unwrap_or(chunk);
                return Err(RunError::GaveUp {
                    what: format!("writing {} predictions", pending.len()),
                    attempts: attempt,
                    last,
                });
            }
            retries += 1;
            tokio::time::sleep(self.settings.retry.delay(attempt)).await;
        }
    }

    async fn retrying<T, F, Fut>(
        &self,
        what: &str,
        retries: &mut u64,
        mut call: F,
    ) -> Result<T, RunError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match call().await {
                Ok(value) => return Ok(value),
                Err(f) if !f.retryable => {
                    return Err(RunError::Fatal(format!("{what}: {}", f.message)))
                }
                Err(f) if attempt >= self.settings.retry.max_attempts => {
                    return Err(RunError::GaveUp {
                        what: what.to_owned(),
                        attempts: attempt,
                        last: f.message,
                    })
                }
                Err(_) => {
                    *retries += 1;
                    tokio::time::sleep(self.settings.retry.delay(attempt)).await;
                }
            }
        }
    }
}
