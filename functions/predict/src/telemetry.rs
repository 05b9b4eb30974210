//! What the online function reports as metrics, through the `metrics` facade (the AWS
//! adapter's `Emf` turns them into CloudWatch's embedded metric format, one flush per
//! request). Every metric has the `ModelVersion` dimension; the counts the canary alarm
//! divides (rows scored, rows outside training) are also recorded without it, so that one
//! alarm covers whichever versions share the traffic.
//!
//! One model serves a sandbox, so every metric's name and labels are known once the model
//! is loaded: each handle is registered with the recorder the first time it is used and
//! kept, and a request then only adds to counters (no label arrays, no version strings,
//! no lookup through the recorder's lock). Handles registered before a recorder is
//! installed record nothing: build the `App` after installing it.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_histogram, histogram, Counter, Histogram, Unit};
use scoring::{Batch, Label, Model, Observer, Predictions, Scored, Task, Watch};

use crate::routes::ROUTE_NAMES;

/// Metric names (also in the template's alarms and dashboard, and the README).
pub mod names {
    pub const REQUESTS: &str = "Requests";
    pub const LATENCY: &str = "Latency";
    pub const COLD_START: &str = "ColdStart";
    pub const INIT_CONFIG: &str = "InitConfig";
    pub const INIT_CLIENTS: &str = "InitClients";
    pub const INIT_MODEL_FETCH: &str = "InitModelFetch";
    pub const INIT_MODEL_BUILD: &str = "InitModelBuild";
    pub const INIT_TOTAL: &str = "InitTotal";
    pub const ROWS_SCORED: &str = "RowsScored";
    pub const ROWS_FEATURE_OUT_OF_RANGE: &str = "RowsFeatureOutOfRange";
    pub const SCORES_OUT_OF_RANGE: &str = "ScoresOutOfRange";
    pub const ROWS_OUTSIDE_TRAINING: &str = "RowsOutsideTraining";
    pub const SCORE: &str = "Score";
    pub const PREDICTED_LABEL: &str = "PredictedLabel";
    // The challenger's, per pair of versions (ChampionVersion, ChallengerVersion): never
    // added to the champion's, which the canary alarm divides.
    pub const CHALLENGER_ROWS_SCORED: &str = "ChallengerRowsScored";
    pub const CHALLENGER_ROWS_COMPARED: &str = "ChallengerRowsCompared";
    pub const CHALLENGER_LABELS_DISAGREED: &str = "ChallengerLabelsDisagreed";
    pub const CHALLENGER_ERRORS: &str = "ChallengerErrors";
    pub const CHALLENGER_ABS_DIFFERENCE: &str = "ChallengerAbsDifference";
    pub const CHALLENGER_SCORE: &str = "ChallengerScore";
    pub const CHALLENGER_PREDICTED_LABEL: &str = "ChallengerPredictedLabel";
    pub const CHALLENGER_LOAD_FAILED: &str = "ChallengerLoadFailed";
    // POST /outcomes: about no model version, so with no dimension but the function's.
    pub const OUTCOMES_RECEIVED: &str = "OutcomesReceived";
    pub const OUTCOMES_REFUSED: &str = "OutcomesRefused";
}

/// The dimensions of the challenger's metrics: the pair of versions compared.
pub const CHAMPION_VERSION: &str = "ChampionVersion";
pub const CHALLENGER_VERSION: &str = "ChallengerVersion";

/// The canary alarm's default threshold (the template's `OutsideTrainingAlarmPercent`):
/// the share of scored rows, in percent, with a feature or the score outside training.
pub const CANARY_OUTSIDE_TRAINING_PERCENT: f64 = 5.0;

/// Most scores recorded per request: EMF takes at most 100 values per metric and
/// document; a larger request is sampled evenly.
pub const MAX_SCORES_PER_REQUEST: usize = 50;

const VERSION: &str = "ModelVersion";

/// How long each step of the cold start took.
#[derive(Debug, Clone, Copy, Default)]
pub struct InitTimes {
    pub config: Duration,
    pub clients: Duration,
    pub model_fetch: Duration,
    pub model_build: Duration,
    /// The whole init, measured: the model's load overlaps the clients' set-up, so it is
    /// less than the sum of the steps.
    pub total: Duration,
}

/// Units, once the recorder is installed.
pub fn describe() {
    use names::*;
    for name in [REQUESTS, COLD_START, ROWS_SCORED, ROWS_FEATURE_OUT_OF_RANGE] {
        describe_counter!(name, Unit::Count, "");
    }
    for name in [SCORES_OUT_OF_RANGE, ROWS_OUTSIDE_TRAINING, PREDICTED_LABEL] {
        describe_counter!(name, Unit::Count, "");
    }
    for name in [
        CHALLENGER_ROWS_SCORED,
        CHALLENGER_ROWS_COMPARED,
        CHALLENGER_LABELS_DISAGREED,
        CHALLENGER_ERRORS,
        CHALLENGER_PREDICTED_LABEL,
        CHALLENGER_LOAD_FAILED,
        OUTCOMES_RECEIVED,
        OUTCOMES_REFUSED,
    ] {
        describe_counter!(name, Unit::Count, "");
    }
    for name in [
        LATENCY,
        INIT_CONFIG,
        INIT_CLIENTS,
        INIT_MODEL_FETCH,
        INIT_MODEL_BUILD,
        INIT_TOTAL,
    ] {
        describe_histogram!(name, Unit::Milliseconds, "");
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Once per sandbox: the cold start, step by step.
pub fn cold_start(model_version: &str, times: &InitTimes) {
    use names::*;
    let version = model_version.to_owned();
    counter!(COLD_START, VERSION => version.clone()).increment(1);
    for (name, took) in [
        (INIT_CONFIG, times.config),
        (INIT_CLIENTS, times.clients),
        (INIT_MODEL_FETCH, times.model_fetch),
        (INIT_MODEL_BUILD, times.model_build),
        (INIT_TOTAL, times.total),
    ] {
        histogram!(name, VERSION => version.clone()).record(ms(took));
    }
}

/// Once per sandbox, when the configured challenger could not be loaded (the reason is in
/// the log): the champion serves alone.
pub fn challenger_load_failed(champion_version: &str) {
    counter!(names::CHALLENGER_LOAD_FAILED, CHAMPION_VERSION => champion_version.to_owned())
        .increment(1);
}

/// "2xx", "3xx", "4xx", "5xx", by index.
const STATUS_CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

fn status_class(status: u16) -> usize {
    match status {
        200..=299 => 0,
        300..=399 => 1,
        400..=499 => 2,
        _ => 3,
    }
}

/// A route's request count and latency, for one status class.
struct RequestMetrics {
    count: Counter,
    latency: Histogram,
}

/// The metric handles of the model a sandbox serves, each registered at its first use.
pub struct Telemetry {
    version: String,
    /// Per route (in [`ROUTE_NAMES`] order), per status class.
    requests: Vec<[OnceLock<RequestMetrics>; 4]>,
    rows_scored: OnceLock<[Counter; 2]>,
    /// Per version: rows with a feature out of range, scores out of range, rows outside
    /// training; and rows outside training for every version.
    outside_training: OnceLock<[Counter; 4]>,
    score: OnceLock<Histogram>,
    /// Per class, in the model's class order.
    labels: Vec<OnceLock<Counter>>,
    /// Outcomes written; outcomes in refused batches.
    outcomes: OnceLock<[Counter; 2]>,
}

impl Telemetry {
    pub fn new(model: &Model) -> Telemetry {
        let classes = match model.task() {
            Task::Regression => 0,
            Task::Classification { classes } => classes.len(),
        };
        Telemetry {
            version: model.version().to_owned(),
            requests: ROUTE_NAMES.iter().map(|_| Default::default()).collect(),
            rows_scored: OnceLock::new(),
            outside_training: OnceLock::new(),
            score: OnceLock::new(),
            labels: (0..classes).map(|_| OnceLock::new()).collect(),
            outcomes: OnceLock::new(),
        }
    }

    fn version(&self) -> String {
        self.version.clone()
    }

    /// One answered request: `route` is an index into [`ROUTE_NAMES`].
    pub fn request(&self, route: usize, status: u16, latency: Duration) {
        let class = status_class(status);
        let metrics = self.requests[route][class].get_or_init(|| {
            let labels = [
                (VERSION, self.version()),
                ("Route", ROUTE_NAMES[route].to_owned()),
                ("StatusClass", STATUS_CLASSES[class].to_owned()),
            ];
            RequestMetrics {
                count: counter!(names::REQUESTS, &labels),
                latency: histogram!(names::LATENCY, &labels),
            }
        });
        metrics.count.increment(1);
        metrics.latency.record(ms(latency));
    }

    fn outcomes(&self) -> &[Counter; 2] {
        self.outcomes.get_or_init(|| {
            [
                counter!(names::OUTCOMES_RECEIVED),
                counter!(names::OUTCOMES_REFUSED),
            ]
        })
    }

    /// `n` outcomes written to the outcomes table.
    pub fn outcomes_received(&self, n: usize) {
        self.outcomes()[0].increment(n as u64);
    }

    /// A batch of `n` outcomes refused (1 for a body that is not a list).
    pub fn outcomes_refused(&self, n: usize) {
        self.outcomes()[1].increment(n as u64);
    }

    /// What records each scored batch: rows scored, the rows and scores outside training
    /// (against `model`'s card, if it has one), the scores or labels answered.
    pub fn observer<'a>(&'a self, model: &'a Model) -> ScoreMetrics<'a> {
        ScoreMetrics {
            telemetry: self,
            watch: model.watch(),
        }
    }
}

/// Sees each batch the model scores, for the metrics.
pub struct ScoreMetrics<'a> {
    telemetry: &'a Telemetry,
    watch: Option<&'a Watch>,
}

impl Observer for ScoreMetrics<'_> {
    fn scored(&mut self, batch: &Batch, scored: &Scored) {
        use names::*;
        let t = self.telemetry;
        let rows = scored.answered() as u64;
        let [per_version, all] = t.rows_scored.get_or_init(|| {
            [
                counter!(ROWS_SCORED, VERSION => t.version()),
                counter!(ROWS_SCORED),
            ]
        });
        per_version.increment(rows);
        all.increment(rows);
        if let Some(watch) = self.watch {
            let seen = watch.observe(batch, scored);
            let [features, scores, outside, outside_all] = t.outside_training.get_or_init(|| {
                [
                    counter!(ROWS_FEATURE_OUT_OF_RANGE, VERSION => t.version()),
                    counter!(SCORES_OUT_OF_RANGE, VERSION => t.version()),
                    counter!(ROWS_OUTSIDE_TRAINING, VERSION => t.version()),
                    counter!(ROWS_OUTSIDE_TRAINING),
                ]
            });
            features.increment(seen.rows_feature_out_of_range);
            scores.increment(seen.scores_out_of_range);
            outside.increment(seen.rows_outside_training);
            outside_all.increment(seen.rows_outside_training);
        }
        record_answers(
            scored,
            || {
                t.score
                    .get_or_init(|| histogram!(SCORE, VERSION => t.version()))
            },
            |class, label| {
                t.labels[class].get_or_init(
                    || counter!(PREDICTED_LABEL, VERSION => t.version(), "Label" => label.to_string()),
                )
            },
        );
    }
}

/// Records the answers of a scored batch: a regressor's scores in the histogram `score`
/// gives (at most [`MAX_SCORES_PER_REQUEST`], sampled evenly), a classifier's labels
/// counted per class on the counter `label` gives for that class (index and label).
pub(crate) fn record_answers<'h>(
    scored: &Scored,
    score: impl FnOnce() -> &'h Histogram,
    label: impl Fn(usize, &Label) -> &'h Counter,
) {
    let answered = |row: &usize| scored.failure(*row).is_none();
    match scored.answers() {
        Predictions::Scores(scores) => {
            let histogram = score();
            let step = scores.len().div_ceil(MAX_SCORES_PER_REQUEST).max(1);
            for row in (0..scores.len()).step_by(step).filter(answered) {
                if scores[row].is_finite() {
                    histogram.record(f64::from(scores[row]));
                }
            }
        }
        Predictions::Classes {
            classes, labels, ..
        } => {
            // Counted per class first: one increment per class answered, not per row.
            let mut counts = [0u64; 16];
            let mut more = Vec::new();
            let counts: &mut [u64] = if classes.len() <= counts.len() {
                &mut counts[..classes.len()]
            } else {
                more.resize(classes.len(), 0);
                &mut more
            };
            for row in (0..labels.len()).filter(answered) {
                counts[labels[row]] += 1;
            }
            for (class, &n) in counts.iter().enumerate().filter(|(_, n)| **n > 0) {
                label(class, &classes[class]).increment(n);
            }
        }
    }
}
