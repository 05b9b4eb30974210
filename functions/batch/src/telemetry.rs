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
    pub const OUTCOMES_JOINED: &str = "OutcomesJoined";
    pub const OUTCOMES_UNMATCHED: &str = "OutcomesUnmatched";
    pub const ACCURACY_MAE: &str = "AccuracyMae";
    pub const ACCURACY_RMSE: &str = "AccuracyRmse";
    pub const ACCURACY_BIAS: &str = "AccuracyBias";
    pub const ACCURACY_RATE: &str = "AccuracyRate";
    pub const ACCURACY_LOG_LOSS: &str = "AccuracyLogLoss";
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
        OUTCOMES_JOINED,
        OUTCOMES_UNMATCHED,
    ] {
        describe_counter!(name, Unit::Count, "");
    }
    describe_histogram!(CHALLENGER_AGREEMENT, Unit::Percent, "");
    describe_histogram!(ACCURACY_RATE, Unit::Percent, "");
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
    accuracy_measured(summary);
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

/// The accuracy of the outcomes the run joined: per model version (its nightly and online
/// pairs together) and, for the alarms, over every version with `FunctionName` alone.
/// Nothing when no outcome arrived or the join failed.
fn accuracy_measured(summary: &Summary) {
    use names::*;
    use scoring::accuracy::combined;
    let Some(report) = summary.accuracy.as_ref().and_then(|a| a.report.as_ref()) else {
        return;
    };
    counter!(OUTCOMES_UNMATCHED).increment(report.unmatched);
    counter!(OUTCOMES_JOINED).increment(report.joined);
    let mut versions: Vec<&str> = report
        .versions
        .iter()
        .map(|v| v.model_version.as_str())
        .collect();
    versions.dedup();
    for version in versions {
        let labels = [("ModelVersion", version.to_owned())];
        let figures = combined(
            report
                .versions
                .iter()
                .filter(|v| v.model_version == version),
        );
        let joined = figures.regressor.as_ref().map_or(0, |r| r.count)
            + figures.classifier.as_ref().map_or(0, |c| c.count);
        counter!(OUTCOMES_JOINED, &labels).increment(joined);
        record_figures(&figures, &labels);
    }
    record_figures(&combined(&report.versions), &[]);
}

fn record_figures(figures: &scoring::accuracy::Combined, labels: &[(&'static str, String)]) {
    use names::*;
    if let Some(r) = &figures.regressor {
        histogram!(ACCURACY_MAE, labels).record(r.mae);
        histogram!(ACCURACY_RMSE, labels).record(r.rmse);
        histogram!(ACCURACY_BIAS, labels).record(r.bias);
    }
    if let Some(c) = &figures.classifier {
        histogram!(ACCURACY_RATE, labels).record(100.0 * c.accuracy);
        histogram!(ACCURACY_LOG_LOSS, labels).record(c.log_loss);
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
