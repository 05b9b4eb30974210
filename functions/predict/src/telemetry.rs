//! What the online function reports as metrics, through the `metrics` facade (the AWS
//! adapter's `Emf` turns them into CloudWatch's embedded metric format, one flush per
//! request). Every metric has the `ModelVersion` dimension; the counts the canary alarm
//! divides (rows scored, rows outside training) are also recorded without it, so that one
//! alarm covers whichever versions share the traffic.

use std::time::Duration;

use metrics::{counter, describe_counter, describe_histogram, histogram, Unit};
use scoring::{Batch, Model, Predictions, ScoreError};

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
}

/// The canary alarm's default threshold (the template's `OutsideTrainingAlarmPercent`):
/// the share of scored rows, in percent, with a feature or the score outside training.
pub const CANARY_OUTSIDE_TRAINING_PERCENT: f64 = 5.0;

/// Most scores recorded per request: EMF takes at most 100 values per metric and
/// document; a larger request is sampled evenly.
pub const MAX_SCORES_PER_REQUEST: usize = 50;

/// How long each step of the cold start took.
#[derive(Debug, Clone, Copy, Default)]
pub struct InitTimes {
    pub config: Duration,
    pub clients: Duration,
    pub model_fetch: Duration,
    pub model_build: Duration,
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

pub fn cold_start(model_version: &str, times: &InitTimes) {
    use names::*;
    let version = model_version.to_owned();
    counter!(COLD_START, "ModelVersion" => version.clone()).increment(1);
    let total = times.config + times.clients + times.model_fetch + times.model_build;
    for (name, took) in [
        (INIT_CONFIG, times.config),
        (INIT_CLIENTS, times.clients),
        (INIT_MODEL_FETCH, times.model_fetch),
        (INIT_MODEL_BUILD, times.model_build),
        (INIT_TOTAL, total),
    ] {
        histogram!(name, "ModelVersion" => version.clone()).record(ms(took));
    }
}

/// "2xx", "4xx", ...
fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

pub fn request(model_version: &str, route: &'static str, status: u16, latency: Duration) {
    let labels = [
        ("ModelVersion", model_version.to_owned()),
        ("Route", route.to_owned()),
        ("StatusClass", status_class(status).to_owned()),
    ];
    counter!(names::REQUESTS, &labels).increment(1);
    histogram!(names::LATENCY, &labels).record(ms(latency));
}

/// Scores `batch` and records what the answers and their inputs looked like: every path
/// that scores goes through here.
pub fn predict(model: &Model, batch: &Batch) -> Result<Predictions, ScoreError> {
    let answers = model.predict(batch)?;
    answered(model, batch, &answers);
    Ok(answers)
}

fn answered(model: &Model, batch: &Batch, answers: &Predictions) {
    use names::*;
    let version = model.version().to_owned();
    let rows = answers.len() as u64;
    counter!(ROWS_SCORED, "ModelVersion" => version.clone()).increment(rows);
    counter!(ROWS_SCORED).increment(rows);
    if let Some(watch) = model.watch() {
        let seen = watch.observe(batch, Some(answers));
        counter!(ROWS_OUTSIDE_TRAINING).increment(seen.rows_outside_training);
        for (name, n) in [
            (ROWS_FEATURE_OUT_OF_RANGE, seen.rows_feature_out_of_range),
            (SCORES_OUT_OF_RANGE, seen.scores_out_of_range),
            (ROWS_OUTSIDE_TRAINING, seen.rows_outside_training),
        ] {
            counter!(name, "ModelVersion" => version.clone()).increment(n);
        }
    }
    match answers {
        Predictions::Scores(scores) => {
            let score = histogram!(SCORE, "ModelVersion" => version);
            let step = scores.len().div_ceil(MAX_SCORES_PER_REQUEST).max(1);
            for &s in scores.iter().step_by(step).filter(|s| s.is_finite()) {
                score.record(f64::from(s));
            }
        }
        Predictions::Classes {
            classes, labels, ..
        } => {
            let mut counts = vec![0u64; classes.len()];
            labels.iter().for_each(|&l| counts[l] += 1);
            for (class, n) in classes.iter().zip(counts).filter(|(_, n)| *n > 0) {
                counter!(PREDICTED_LABEL, "ModelVersion" => version.clone(), "Label" => class.to_string())
                    .increment(n);
            }
        }
    }
}
