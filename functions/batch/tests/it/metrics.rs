//! The batch's metrics, as CloudWatch would read them: a completed run's figures and its
//! drift, as EMF lines from the installed recorder; the planner and the slices write none.
//! (One test, alone in its process: the recorder is process-wide, and the other tests of
//! this binary run jobs too.)

use aws_adapter::emf::Emf;
use serde_json::Value;
use testkit::batch_support::*;
use testkit::emf::{checked_document, sum, unit, with};
use testkit::memory::InMemoryPredictions;

const NAMESPACE: &str = "BatchTest";

fn flushed(emf: &Emf) -> Vec<Value> {
    let mut out = Vec::new();
    emf.flush_to(&mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| checked_document(l, NAMESPACE))
        .collect()
}

#[tokio::test]
async fn a_completed_run_emits_its_figures_and_drift_once_as_emf() {
    testkit::alone!();
    let emf = Emf::install(NAMESPACE, "batch-test").unwrap();
    batch::telemetry::describe();

    // Planned, then sliced: only the finish step, which completes the run, reports it.
    let job = job(products(300), 50, InMemoryPredictions::default());
    let plan = plan_of(&job).await;
    for slice in &plan.slices {
        score_slice_to_end(&job, slice.clone(), true).await;
    }
    assert!(
        flushed(&emf).is_empty(),
        "the planner and the slices report nothing: the run is not complete yet"
    );
    let summary = summary_of(
        invoke_json(&job, serde_json::json!({ "finish": plan }), false)
            .await
            .unwrap(),
    );
    let docs = flushed(&emf);
    let version = ["ModelVersion"];
    for (metric, want) in [
        ("RunsCompleted", 1.0),
        ("RowsScanned", summary.rows_scanned as f64),
        ("RowsScored", summary.rows_scored as f64),
        ("RowsRejected", summary.rows_rejected as f64),
        ("RowsWritten", summary.rows_written as f64),
        ("Retries", summary.retries as f64),
        ("Invocations", f64::from(summary.invocations)),
    ] {
        let found = with(&docs, metric, &version);
        if want == 0.0 {
            // Counters at zero are left out.
            assert!(found.is_empty() || sum(&found, metric) == 0.0, "{metric}");
        } else {
            assert_eq!(sum(&found, metric), want, "{metric}");
            assert_eq!(unit(found[0], metric).as_deref(), Some("Count"), "{metric}");
        }
    }
    assert_eq!(summary.rows_scanned, 300);
    let run = with(&docs, "RunDuration", &version);
    assert_eq!(sum(&run, "RunDuration"), summary.duration_ms as f64);
    assert_eq!(unit(run[0], "RunDuration").as_deref(), Some("Milliseconds"));
    if summary.duration_ms > 0 {
        let rate = sum(&with(&docs, "RowsPerSecond", &version), "RowsPerSecond");
        let want = summary.rows_scored as f64 / (summary.duration_ms as f64 / 1e3);
        assert!((rate - want).abs() < 1e-6 * want, "{rate} vs {want}");
    }
    for doc in &docs {
        assert_eq!(
            doc["ModelVersion"].as_str().unwrap_or("model-v1"),
            "model-v1"
        );
        assert_eq!(doc["FunctionName"], "batch-test");
    }

    // Drift: one PSI per profiled feature, the score's, and the largest, also without
    // the version for the alarm.
    let drift = summary.drift.expect("the demo model has a card");
    let features = with(&docs, "FeaturePsi", &["ModelVersion", "Feature"]);
    assert_eq!(features.len(), drift.features.len());
    for doc in &features {
        let name = doc["Feature"].as_str().unwrap();
        assert_eq!(
            doc["FeaturePsi"][0].as_f64(),
            drift.features[name].psi,
            "{name}"
        );
    }
    assert_eq!(
        with(&docs, "ScorePsi", &version)[0]["ScorePsi"][0].as_f64(),
        drift.score.as_ref().unwrap().psi
    );
    for dims in [&version[..], &[]] {
        let max = with(&docs, "MaxPsi", dims);
        assert_eq!(max.len(), 1, "{dims:?}");
        assert_eq!(max[0]["MaxPsi"][0].as_f64(), drift.max_psi);
    }

    // Written once.
    assert!(flushed(&emf).is_empty());
}
