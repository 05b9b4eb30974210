//! The batch's metrics, as CloudWatch would read them: a completed run's figures and its
//! drift and its challenger's comparison, as EMF lines from the installed recorder; the
//! planner and the slices write none.
//! (Each test alone in its process: the recorder is process-wide, and the other tests of
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

/// Equal but for the last digit (serde_json's float parsing may be off by one ulp).
fn same(a: f64, b: Option<f64>) -> bool {
    b.is_some_and(|b| (a - b).abs() <= 1e-12 * b.abs().max(1.0))
}

/// A histogram's one value in the one document with exactly `dims` (plus FunctionName).
fn only(docs: &[Value], metric: &str, dims: &[&str]) -> f64 {
    let found = with(docs, metric, dims);
    assert_eq!(found.len(), 1, "{metric} {dims:?}: {docs:?}");
    let values = found[0][metric].as_array().map_or_else(
        || vec![found[0][metric].as_f64().unwrap()],
        |a| a.iter().map(|v| v.as_f64().unwrap()).collect(),
    );
    assert_eq!(values.len(), 1, "{metric}: written once");
    values[0]
}

#[tokio::test]
async fn a_run_with_a_challenger_emits_its_comparison_per_pair_of_versions() {
    testkit::alone!();
    use testkit::models::{challenger, challengers};
    let emf = Emf::install(NAMESPACE, "batch-test").unwrap();
    batch::telemetry::describe();
    let pair = ["ChampionVersion", "ChallengerVersion"];

    // At cold start, a challenger that failed to load: counted, by champion version.
    batch::telemetry::challenger_load_failed("model-v1");
    let docs = flushed(&emf);
    let failed = with(&docs, "ChallengerLoadFailed", &["ChampionVersion"]);
    assert_eq!(sum(&failed, "ChallengerLoadFailed"), 1.0);
    assert_eq!(
        unit(failed[0], "ChallengerLoadFailed").as_deref(),
        Some("Count")
    );
    assert_eq!(failed[0]["ChampionVersion"], "model-v1");

    // Two regressors: rows compared, differences and PSI; no agreement (no labels).
    let mut regressors = job(products(300), 50, InMemoryPredictions::default());
    regressors.challenger = Some(Ok(scoring::Model::load(
        &challenger(challengers::WHITE),
        "white-v1",
    )
    .unwrap()));
    let (summary, _) = run_to_completion(&regressors, true).await;
    let report = summary.challenger.unwrap().comparison.unwrap();
    let docs = flushed(&emf);
    let compared = with(&docs, "ChallengerRowsCompared", &pair);
    assert_eq!(sum(&compared, "ChallengerRowsCompared"), 300.0);
    assert_eq!(
        unit(compared[0], "ChallengerRowsCompared").as_deref(),
        Some("Count")
    );
    assert_eq!(
        (
            &compared[0]["ChampionVersion"],
            &compared[0]["ChallengerVersion"]
        ),
        (
            &serde_json::json!("model-v1"),
            &serde_json::json!("white-v1")
        )
    );
    let errors = with(&docs, "ChallengerErrors", &pair);
    assert!(errors.is_empty() || sum(&errors, "ChallengerErrors") == 0.0);
    assert!(same(
        only(&docs, "ChallengerMeanAbsDifference", &pair),
        report.mean_abs_difference
    ));
    assert!(same(
        only(&docs, "ChallengerP99AbsDifference", &pair),
        report.p99_abs_difference
    ));
    for dims in [&pair[..], &[]] {
        assert!(
            same(only(&docs, "ChallengerPsi", dims), report.psi),
            "{dims:?}"
        );
    }
    assert!(with(&docs, "ChallengerAgreement", &pair).is_empty());

    // Two classifiers: the agreement, in percent; a row the challenger cannot read is
    // its error.
    let path = testkit::moto::repository_root().join("model/wine_good_classifier.onnx");
    let mut items: Vec<testkit::Item> = testkit::demo_data::colored_wines()
        .unwrap()
        .into_iter()
        .take(100)
        .collect();
    items[3].remove("alcohol");
    let mut classifiers = job(items, 50, InMemoryPredictions::default());
    classifiers.model = scoring::Model::load(&std::fs::read(path).unwrap(), "good-v1").unwrap();
    classifiers.challenger = Some(Ok(scoring::Model::load(
        &challenger(challengers::GRADE),
        "grades-v1",
    )
    .unwrap()));
    let (summary, _) = run_to_completion(&classifiers, true).await;
    let report = summary.challenger.unwrap().comparison.unwrap();
    assert_eq!(report.challenger_errors, 1, "{report:?}");
    let docs = flushed(&emf);
    let agreement = with(&docs, "ChallengerAgreement", &pair);
    assert_eq!(
        unit(agreement[0], "ChallengerAgreement").as_deref(),
        Some("Percent")
    );
    assert!(same(
        only(&docs, "ChallengerAgreement", &pair) / 100.0,
        report.agreement_rate
    ));
    assert_eq!(
        sum(&with(&docs, "ChallengerErrors", &pair), "ChallengerErrors"),
        1.0
    );
    assert_eq!(
        sum(
            &with(&docs, "ChallengerRowsCompared", &pair),
            "ChallengerRowsCompared"
        ),
        report.rows_compared as f64
    );

    // A run without a challenger writes none of them.
    let plain = job(products(100), 50, InMemoryPredictions::default());
    run_to_completion(&plain, true).await;
    let docs = flushed(&emf);
    assert!(docs.iter().all(|d| d
        .as_object()
        .unwrap()
        .keys()
        .all(|k| !k.starts_with("Challenger"))));
}
