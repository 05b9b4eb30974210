//! What the batch reports as metrics when a run completes, through the `metrics` facade
//! (the AWS adapter's `Emf` writes them in CloudWatch's embedded metric format): the run's
//! figures, its drift against the model card, and its challenger's comparison. Per model
//! version (the comparison per pair of versions); the largest PSI and the challenger's PSI
//! are also recorded without them, for alarms.

use metrics::{counter, describe_counter, describe_histogram, histogram, Unit};

use crate::summary::{Status, Summary};

/// Metric names (also in the template's alarm and dashboard, and the README).
pub mod names {
    pub const RUNS_COMPLETED: &str = "RunsCompleted";
    pub const ROWS_SCANNED: &str = "RowsScanned";
    pub const ROWS_SCORED: &str = "RowsScored";
    pub const ROWS_REJECTED: &str = "RowsRejected";
    pub const ROWS_WRITTEN: &str = "RowsWritten";
    pub const RETRIES: &str = "Retries";
    pub const ROWS_PER_SECOND: &str = "RowsPerSecond";
    pub const RUN_DURATION: &str = "RunDuration";
    pub const INVOCATIONS: &str = "Invocations";
    pub const ROWS_OUTSIDE_TRAINING: &str = "RowsOutsideTraining";
    pub const FEATURE_PSI: &str = "FeaturePsi";
    pub const SCORE_PSI: &str = "ScorePsi";
    pub const LABEL_PSI: &str = "LabelPsi";
    pub const MAX_PSI: &str = "MaxPsi";
    pub const CHALLENGER_LOAD_FAILED: &str = "ChallengerLoadFailed";
    pub const CHALLENGER_ROWS_COMPARED: &str = "ChallengerRowsCompared";
    pub const CHALLENGER_ERRORS: &str = "ChallengerErrors";
    pub const CHALLENGER_AGREEMENT: &str = "ChallengerAgreement";
    pub const CHALLENGER_MEAN_ABS_DIFFERENCE: &str = "ChallengerMeanAbsDifference";
    pub const CHALLENGER_P99_ABS_DIFFERENCE: &str = "ChallengerP99AbsDifference";
    pub const CHALLENGER_PSI: &str = "ChallengerPsi";
}

/// Units, once the recorder is installed.
pub fn describe() {
    use names::*;
    for name in [
        RUNS_COMPLETED,
        ROWS_SCANNED,
        ROWS_SCORED,
        ROWS_REJECTED,
        ROWS_WRITTEN,
        RETRIES,
        INVOCATIONS,
        ROWS_OUTSIDE_TRAINING,
        CHALLENGER_LOAD_FAILED,
        CHALLENGER_ROWS_COMPARED,
        CHALLENGER_ERRORS,
    ] {
        describe_counter!(name, Unit::Count, "");
    }
    describe_histogram!(CHALLENGER_AGREEMENT, Unit::Percent, "");
    describe_histogram!(ROWS_PER_SECOND, Unit::CountPerSecond, "");
    describe_histogram!(RUN_DURATION, Unit::Milliseconds, "");
    // PSI and the differences are unitless: no unit, which CloudWatch shows as None.
}

/// A challenger configured but not loaded at cold start (the batch goes on without it).
pub fn challenger_load_failed(champion_version: &str) {
    counter!(names::CHALLENGER_LOAD_FAILED, "ChampionVersion" => champion_version.to_owned())
        .increment(1);
}

// Values are histograms, not gauges: the recorder writes a gauge again at every flush,
// and a value must be written once, for the run it belongs to.

/// Records a completed run (only a complete run's figures are whole).
pub fn run_completed(summary: &Summary) {
    use names::*;
    match summary.status {
        Status::Complete => {}
    }
    let version = || ("ModelVersion", summary.model_version.clone());
    let labels = [version()];
    counter!(RUNS_COMPLETED, &labels).increment(1);
    challenger_compared(summary);
    for (name, n) in [
        (ROWS_SCANNED, summary.rows_scanned),
        (ROWS_SCORED, summary.rows_scored),
        (ROWS_REJECTED, summary.rows_rejected),
        (ROWS_WRITTEN, summary.rows_written),
        (RETRIES, summary.retries),
        (INVOCATIONS, u64::from(summary.invocations)),
    ] {
        counter!(name, &labels).increment(n);
    }
    let seconds = summary.duration_ms as f64 / 1e3;
    histogram!(RUN_DURATION, &labels).record(summary.duration_ms as f64);
    if seconds > 0.0 {
        histogram!(ROWS_PER_SECOND, &labels).record(summary.rows_scored as f64 / seconds);
    }
    let Some(drift) = &summary.drift else {
        return;
    };
    counter!(ROWS_OUTSIDE_TRAINING, &labels).increment(drift.rows_outside_training);
    for (feature, d) in &drift.features {
        if let Some(psi) = d.psi {
            histogram!(FEATURE_PSI, "ModelVersion" => summary.model_version.clone(), "Feature" => feature.clone())
                .record(psi);
        }
    }
    if let Some(psi) = drift.score.as_ref().and_then(|d| d.psi) {
        histogram!(SCORE_PSI, &labels).record(psi);
    }
    if let Some(psi) = drift.labels.as_ref().and_then(|d| d.psi) {
        histogram!(LABEL_PSI, &labels).record(psi);
    }
    if let Some(psi) = drift.max_psi {
        histogram!(MAX_PSI, &labels).record(psi);
        histogram!(MAX_PSI).record(psi);
    }
}

/// The run's comparison with its challenger, per pair of versions; nothing when the run
/// had none, or it failed to load.
fn challenger_compared(summary: &Summary) {
    use names::*;
    let Some(challenger) = &summary.challenger else {
        return;
    };
    let (Some(version), Some(report)) = (&challenger.model_version, &challenger.comparison) else {
        return;
    };
    let labels = [
        ("ChampionVersion", summary.model_version.clone()),
        ("ChallengerVersion", version.clone()),
    ];
    counter!(CHALLENGER_ROWS_COMPARED, &labels).increment(report.rows_compared);
    counter!(CHALLENGER_ERRORS, &labels).increment(report.challenger_errors);
    if let Some(rate) = report.agreement_rate {
        histogram!(CHALLENGER_AGREEMENT, &labels).record(100.0 * rate);
    }
    if let Some(d) = report.mean_abs_difference {
        histogram!(CHALLENGER_MEAN_ABS_DIFFERENCE, &labels).record(d);
    }
    if let Some(d) = report.p99_abs_difference {
        histogram!(CHALLENGER_P99_ABS_DIFFERENCE, &labels).record(d);
    }
    if let Some(psi) = report.psi {
        histogram!(CHALLENGER_PSI, &labels).record(psi);
        histogram!(CHALLENGER_PSI).record(psi);
    }
}
