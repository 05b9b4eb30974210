//! scan -> score -> write, with bounded memory: each segment holds one Scan page at a time,
//! scores it in batches of `score_batch` rows per model call, and writes the results 25 a
//! request with `writes_in_flight` requests at once. Transient failures are retried by the
//! stores themselves (the SDK); what this module retries is only what a store reports as
//! not written (DynamoDB's UnprocessedItems), with exponential backoff and jitter. Past
//! the attempts, with no deadline the run fails; with one, a throttled table is waited out
//! until the deadline and the page handed back unfinished, for the next invocation to read
//! again. Nothing is dropped.
//!
//! With `explain_top_k` above 0, each scored batch is also explained, and each result
//! carries its answer's `k` largest contributions. An explanation that fails (for the
//! batch, or a row) never costs the answers: they are written without it and counted as
//! unexplained in the run's figures.
//!
//! With a challenger, each scored batch is scored by it too ([`crate::challenger`]): its
//! answer is stored beside the champion's and compared in the run's figures; whatever it
//! does, the champion's results are written as without it.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use scoring::{
    Batch, DriftTally, ExplainedTargets, Model, Observer, RowExplanation, Scored, Watch,
};
use store::predictions::{
    ChallengerAnswer, Prediction, PredictionSink, TopContributions, MAX_BATCH,
};
use store::scan::{AttributeScan, ScannedRow};
use store::ErrorKind;

// `RunError` has always been imported from here.
use crate::budget;
use crate::challenger::{self, Challenger};
pub use crate::error::RunError;
use crate::run::{RunState, SegmentState, Totals};

/// Items per Scan page (the Scan's `Limit`). Pages well under DynamoDB's 1 MB cap stay in
/// cache while they are scored and written (benches/pipeline.rs measures the effect).
pub const SCAN_PAGE_ITEMS: usize = 1000;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Rows per model call.
    pub score_batch: usize,
    /// BatchWriteItem requests in flight per segment.
    pub writes_in_flight: usize,
    pub resend: ResendPolicy,
    /// Contributions stored with each result, largest by absolute value first
    /// (`EXPLAIN_TOP_K`); 0: no explanations, nothing done beyond scoring.
    pub explain_top_k: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            score_batch: 500,
            writes_in_flight: 4,
            resend: ResendPolicy::default(),
            explain_top_k: 0,
        }
    }
}

/// How often predictions a store left unwritten are sent again, and how long to wait.
#[derive(Debug, Clone)]
pub struct ResendPolicy {
    /// Writes per chunk, the first included, before the run fails.
    pub max_attempts: u32,
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl Default for ResendPolicy {
    fn default() -> Self {
        ResendPolicy {
            max_attempts: 10,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl ResendPolicy {
    /// The waits before each resend: exponential, with jitter, `max_attempts - 1` of them.
    fn delays(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
            .build()
    }
}

pub struct Pipeline<'a, S, P> {
    pub model: &'a Model,
    /// The run's challenger as this invocation has it; `None`: the run has none.
    pub challenger: Option<Challenger<'a>>,
    pub scan: &'a S,
    pub sink: &'a P,
    pub settings: Settings,
}

/// What every result item of a run carries besides its id and score, shared by all.
struct Stamp {
    model_version: Arc<str>,
    run_id: Arc<str>,
    scored_at: Arc<str>,
    /// The model's input features, named once for every row's contributions; `None` when
    /// no explanation is stored.
    features: Option<Arc<[Arc<str>]>>,
    /// The challenger's version, when it scores.
    challenger_version: Option<Arc<str>>,
}

/// What one invocation's work leaves behind.
pub struct Progress {
    pub segments: Vec<SegmentState>,
    pub totals: Totals,
}

impl<S: AttributeScan, P: PredictionSink> Pipeline<'_, S, P> {
    /// Works on every unfinished segment of `state` concurrently until each is done or
    /// `stop_at` has passed (checked between pages: every unfinished segment reads at least
    /// one page, which is always finished). A later page still unwritten
    /// [`budget::page_allowance`] after `stop_at` is handed back, so that the slice answers
    /// before its guard stops it.
    pub async fn run(
        &self,
        state: &RunState,
        scored_at: &str,
        stop_at: Option<Instant>,
    ) -> Result<Progress, RunError> {
        let total = state.total_segments;
        let features = match self.model.explainability() {
            Ok(targets) if self.settings.explain_top_k > 0 => Some(
                targets
                    .features
                    .iter()
                    .map(|f| Arc::from(f.as_str()))
                    .collect(),
            ),
            _ => None,
        };
        let stamp = Stamp {
            model_version: self.model.version().into(),
            run_id: state.run_id.as_str().into(),
            scored_at: scored_at.into(),
            features,
            challenger_version: match self.challenger {
                Some(Challenger::Scores(model)) => Some(model.version().into()),
                _ => None,
            },
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
        // Past it, a page's calls are abandoned and the page handed back (its writes are
        // idempotent, its cursor kept): time left for the slice's figures and the answer.
        let hand_back = stop_at.map(|t| t + budget::page_allowance(self.settings.resend.max_delay));
        // At least one page per invocation, so a run always progresses however little
        // time is left (that page runs to its end); then pages only while time remains.
        let mut first = true;
        while !segment.done && (first || stop_at.is_none_or(|t| now() < t)) {
            let limit = if first { None } else { hand_back };
            first = false;
            let Some(page) = within(
                limit,
                self.scan
                    .page(segment.segment, total, segment.after.as_deref()),
            )
            .await
            else {
                break;
            };
            let page = page.map_err(RunError::ScanFailed)?;
            // The page's figures count once its writes are done: a page handed back
            // unfinished is read, and counted, again by the next invocation.
            let mut on_page = Totals {
                scanned: page.rows.len() as u64,
                ..Totals::default()
            };
            // The page is consumed here: its rows are gone before the writes are awaited,
            // so at most one page is held at a time whatever the number of segments.
            let predictions = self.score(page.rows, stamp, &mut on_page)?;
            on_page.scored = predictions.len() as u64;
            // Counted as they happen, so that a page abandoned mid-write keeps its count.
            let resends = AtomicU64::new(0);
            let written = within(limit, self.write(&predictions, stop_at, limit, &resends)).await;
            let resends = resends.into_inner();
            match written {
                Some(Ok(written)) => {
                    on_page.written = written;
                    on_page.retries = resends;
                    totals.add(on_page);
                }
                Some(Err(Stopped::OutOfTime)) | None => {
                    totals.retries += resends;
                    break;
                }
                Some(Err(Stopped::Failed(e))) => return Err(e),
            }
            segment.done = page.next.is_none();
            segment.after = page.next.or(segment.after);
        }
        Ok((segment, totals))
    }

    /// Valid rows become predictions; invalid ones are counted with their reason. Each row
    /// is dropped as soon as it is read (while still in cache) and its id moved, not copied.
    /// With a challenger, each row the champion answered carries the challenger's answer
    /// when it has one, and is counted in the run's comparison either way.
    fn score(
        &self,
        rows: Vec<ScannedRow>,
        stamp: &Stamp,
        totals: &mut Totals,
    ) -> Result<Vec<Prediction>, RunError> {
        let schema = self.model.schema();
        let batch = self.settings.score_batch.max(1);
        let mut predictions = Vec::with_capacity(rows.len());
        let mut inputs = schema.batch(batch.min(rows.len()));
        let mut challenger_inputs = self
            .challenger
            .map(|c| challenger::Inputs::new(c, schema, batch.min(rows.len())));
        let mut ids = Vec::with_capacity(batch.min(rows.len()));
        let mut rows = rows.into_iter();
        while rows.len() > 0 {
            inputs.clear();
            if let Some(c) = &mut challenger_inputs {
                c.clear();
            }
            for scanned in rows.by_ref().take(batch) {
                match schema.read_row(&scanned.row, &mut inputs) {
                    Ok(()) => {
                        if let Some(c) = &mut challenger_inputs {
                            c.read(&scanned);
                        }
                        ids.push(scanned.product_id)
                    }
                    Err(e) => totals.reject(&scanned.product_id, e.to_string()),
                }
            }
            // A row the model cannot answer (a refused category, a non-finite answer) is
            // rejected alone; its inputs still count for drift.
            let mut drift = self.model.watch().map(|watch| DriftObserver {
                watch,
                tally: &mut totals.drift,
            });
            let scored = self
                .model
                .score(&inputs, &mut drift)
                .map_err(RunError::ScoringFailed)?;
            let challenged = challenger_inputs.as_ref().map(|c| c.score(&inputs));
            let explanations = self.explain(&inputs, &scored, stamp);
            for (row, (id, outcome)) in ids.drain(..).zip(scored.outcomes()).enumerate() {
                let answer = match outcome {
                    Ok(answer) => answer,
                    Err(failure) => {
                        totals.reject(&id, failure.to_string());
                        continue;
                    }
                };
                let explanation = match &explanations {
                    None => None,
                    Some(Err(_)) => {
                        totals.unexplained += 1;
                        None
                    }
                    Some(Ok((explained, features))) => {
                        let top = explained.row(row).and_then(|e| {
                            top_contributions(e, &answer, features, self.settings.explain_top_k)
                        });
                        totals.unexplained += u64::from(top.is_none());
                        top
                    }
                };
                let challenger = challenged.as_ref().and_then(|c| {
                    let theirs = c.answer(row);
                    totals
                        .comparison
                        .add(&id, &answer, theirs.as_ref().map_err(|r| *r));
                    Some(ChallengerAnswer {
                        answer: theirs.ok()?,
                        model_version: stamp.challenger_version.clone()?,
                    })
                });
                predictions.push(Prediction {
                    product_id: id,
                    answer,
                    model_version: stamp.model_version.clone(),
                    run_id: stamp.run_id.clone(),
                    scored_at: stamp.scored_at.clone(),
                    explanation,
                    challenger,
                });
            }
        }
        Ok(predictions)
    }

    /// The batch's explanations with the features they name, when asked for: `None` when
    /// not; `Err` (logged) when the model failed to explain, its answers stored without.
    fn explain<'s>(
        &self,
        inputs: &Batch,
        scored: &Scored,
        stamp: &'s Stamp,
    ) -> Option<Explained<'s>> {
        if self.settings.explain_top_k == 0 {
            return None;
        }
        let explained = self.model.explain(inputs, scored).map_err(|e| {
            tracing::error!(error = %e, rows = scored.rows(), "a batch's answers are stored without their explanations");
        });
        // The features are there whenever the model explains (see `run`).
        Some(explained.map(|e| (e, stamp.features.as_deref().unwrap_or_default())))
    }

    /// Writes every prediction: how many, the resends counted into `resends`.
    async fn write(
        &self,
        predictions: &[Prediction],
        stop_at: Option<Instant>,
        hand_back: Option<Instant>,
        resends: &AtomicU64,
    ) -> Result<u64, Stopped> {
        stream::iter(predictions.chunks(MAX_BATCH))
            .map(|chunk| self.write_chunk(chunk, stop_at, hand_back, resends))
            .buffer_unordered(self.settings.writes_in_flight.max(1))
            .try_fold(0, |w, w2| async move { Ok(w + w2) })
            .await
    }

    /// One chunk, resent while the store leaves part of it unwritten (up to the resend
    /// policy's attempts). Past them, or once the store stays unavailable past its own
    /// retries: with no deadline the run fails; with one, the chunk is resent at the
    /// longest delay until `stop_at`, and then the page is handed back (a throttled
    /// table slows a run down, it does not fail it). No wait is begun that would end past
    /// `hand_back`: the page is handed back at once.
    async fn write_chunk(
        &self,
        chunk: &[Prediction],
        stop_at: Option<Instant>,
        hand_back: Option<Instant>,
        resends: &AtomicU64,
    ) -> Result<u64, Stopped> {
        // What is left once a write leaves some unprocessed; until then the chunk itself
        // (no copy on the common path).
        let mut left: Option<Vec<Prediction>> = None;
        let mut delays = self.settings.resend.delays();
        let mut attempts = 1;
        loop {
            let pending = left.as_deref().unwrap_or(chunk);
            let (refused, next) = match self.sink.write(pending).await {
                Ok(unprocessed) if unprocessed.is_empty() => return Ok(chunk.len() as u64),
                Ok(unprocessed) => {
                    let refused = RunError::WritesExhausted {
                        pending: unprocessed.len(),
                        attempts,
                    };
                    left = Some(unprocessed);
                    (refused, delays.next())
                }
                // The store's own retries are spent: only a deadline may wait longer.
                Err(e) if e.kind == ErrorKind::Unavailable && stop_at.is_some() => {
                    (RunError::WriteFailed(e), None)
                }
                Err(e) => return Err(Stopped::Failed(RunError::WriteFailed(e))),
            };
            let (delay, until) = match (next, stop_at) {
                (Some(delay), _) => (delay, hand_back),
                (None, None) => return Err(Stopped::Failed(refused)),
                (None, Some(stop_at)) => (
                    self.settings.resend.max_delay,
                    Some(hand_back.map_or(stop_at, |h| h.min(stop_at))),
                ),
            };
            if until.is_some_and(|t| now() + delay >= t) {
                return Err(Stopped::OutOfTime);
            }
            attempts += 1;
            resends.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(delay).await;
        }
    }
}

/// A batch's explanations and the features they name; `Err`: the model failed to explain
/// the batch (logged where it happened).
type Explained<'s> = Result<(scoring::Explanations, &'s [Arc<str>]), ()>;

/// A row's `k` largest contributions by absolute value, largest first (ties in feature
/// order, as [`RowExplanation::top`]), for the class a classifier predicted; `None` if any
/// of its contributions is not a finite number (no answer to store).
fn top_contributions(
    row: RowExplanation<'_>,
    answer: &scoring::Prediction,
    features: &[Arc<str>],
    k: usize,
) -> Option<TopContributions> {
    let targets: &ExplainedTargets = row.targets();
    let target = match answer {
        scoring::Prediction::Class(c) => row.target_of(c.label()),
        scoring::Prediction::Score(_) => 0,
    };
    let values = row.contributions(target);
    if values.len() != features.len() || !values.iter().all(|v| v.is_finite()) {
        return None;
    }
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].abs().total_cmp(&values[a].abs()));
    Some(TopContributions {
        space: targets.space,
        class: targets.classes.as_ref().map(|c| c[target].clone()),
        contributions: order
            .into_iter()
            .take(k)
            .map(|f| (features[f].clone(), values[f]))
            .collect(),
    })
}

/// Tallies every scored batch into the run's drift counts.
struct DriftObserver<'a> {
    watch: &'a Watch,
    tally: &'a mut DriftTally,
}

impl Observer for DriftObserver<'_> {
    fn scored(&mut self, batch: &Batch, scored: &Scored) {
        self.tally.add(self.watch, batch, scored);
    }
}

/// The runtime's clock (which tests may pause and advance), as an `Instant`.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// `work`'s output, or `None` if `limit` passes first (the work is dropped).
async fn within<T>(limit: Option<Instant>, work: impl Future<Output = T>) -> Option<T> {
    match limit {
        None => Some(work.await),
        Some(limit) => tokio::time::timeout_at(limit.into(), work).await.ok(),
    }
}

/// Why a page's writes stopped short.
enum Stopped {
    Failed(RunError),
    /// The store kept refusing part of the page until the stop, or there is no time left
    /// to wait for it: the page goes back unfinished (its writes are idempotent).
    OutOfTime,
}
