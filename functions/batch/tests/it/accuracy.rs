//! The nightly join over in-memory stores: outcomes that arrived since the last run,
//! joined (before tonight's results replace them) with the stored nightly result and the
//! captured online answers they refer to, by the rules (a stored result newer than the
//! outcome is not joined; the latest online answer before the outcome is; a request's row
//! must exist); the figures checked against what the test computes from the same pairs;
//! the next run's window starting where this one's ended; a failing outcome store said in
//! the summary, never failing the night.

use std::sync::Arc;

use batch::join::OutcomeJoin;
use batch::matching::reasons;
use batch::summary::AccuracySummary;
use batch::Job;
use chrono::{DateTime, Duration, Utc};
use scoring::accuracy::{AccuracyReport, Source};
use store::capture::{
    CapturedAnswer, CapturedRequest, CapturedRow, Features, MemoryCaptures, CAPTURE_FORMAT,
};
use store::outcomes::{MemoryOutcomes, Observed, Outcome, OutcomeSource, Subject};
use store::predictions::{Prediction, PredictionLookup, PredictionSink};
use store::StoreError;
use testkit::batch_support::*;
use testkit::memory::{InMemoryPredictions, InMemoryRunLog, InMemoryScan};

/// The predictions table, shared by the job (which writes tonight's results) and the join
/// (which reads last night's).
#[derive(Clone, Default)]
struct Shared(Arc<InMemoryPredictions>);

impl PredictionSink for Shared {
    async fn write(&self, batch: &[Prediction]) -> Result<Vec<Prediction>, StoreError> {
        self.0.write(batch).await
    }
}

impl PredictionLookup for Shared {
    async fn stored(&self, product_id: &str) -> Result<Option<Prediction>, StoreError> {
        self.0.stored(product_id).await
    }
}

/// The outcomes table, shared by the test (which adds outcomes between runs) and the join.
#[derive(Clone, Default)]
struct SharedOutcomes(Arc<MemoryOutcomes>);

impl OutcomeSource for SharedOutcomes {
    async fn arrived(&self, since: &str, until: &str) -> Result<Vec<Outcome>, StoreError> {
        self.0.arrived(since, until).await
    }
}

/// An outcomes table that never answers.
struct Stalled;

impl OutcomeSource for Stalled {
    async fn arrived(&self, _: &str, _: &str) -> Result<Vec<Outcome>, StoreError> {
        std::future::pending().await
    }
}

struct Unavailable;

impl OutcomeSource for Unavailable {
    async fn arrived(&self, _: &str, _: &str) -> Result<Vec<Outcome>, StoreError> {
        Err(StoreError::unavailable(
            "Query on table outcomes: timed out",
        ))
    }
}

fn t(time: DateTime<Utc>) -> String {
    batch::run::rfc3339(time)
}

fn job_with(
    table: &Shared,
    accuracy: Option<Box<dyn batch::join::AccuracyJoin>>,
) -> Job<InMemoryScan, Shared, InMemoryRunLog> {
    Job {
        model: demo_model(),
        challenger: None,
        scan: InMemoryScan::new(scanned(&products(40)), 10),
        sink: table.clone(),
        run_log: InMemoryRunLog::default(),
        segments: 4,
        workers: 2,
        settings: fast_settings(),
        store_retries: Box::new(()),
        accuracy,
    }
}

fn stored(id: &str, score: f32, scored_at: &str) -> Prediction {
    Prediction {
        product_id: id.into(),
        answer: scoring::Prediction::Score(score),
        model_version: "model-v0".into(),
        run_id: "nightly-before".into(),
        scored_at: scored_at.into(),
        explanation: None,
        challenger: None,
    }
}

fn captured(id: &str, time: &str, product: Option<&str>, scores: &[f64]) -> CapturedRequest {
    CapturedRequest {
        capture: CAPTURE_FORMAT,
        request_id: id.into(),
        time: time.into(),
        route: match product {
            Some(_) => "GET /predict/{product_id}".into(),
            None => "POST /predict".into(),
        },
        model: "wine".into(),
        model_version: "model-v1".into(),
        challenger_version: None,
        product_id: product.map(Into::into),
        first_row: 0,
        rows: scores
            .iter()
            .map(|&score| CapturedRow {
                features: Features::default(),
                answer: CapturedAnswer::Score { score },
                challenger: None,
            })
            .collect(),
    }
}

fn outcome(subject: Subject, observed: f64, observed_at: &str, received_at: &str) -> Outcome {
    Outcome {
        subject,
        observed: Observed::Number(observed),
        observed_at: observed_at.into(),
        received_at: received_at.into(),
    }
}

fn product(id: &str) -> Subject {
    Subject::Product(id.into())
}

fn request(id: &str, row: u32) -> Subject {
    Subject::Request { id: id.into(), row }
}

/// MAE, RMSE, bias of (prediction, observed) pairs.
fn figures(pairs: &[(f64, f64)]) -> (u64, f64, f64, f64) {
    let n = pairs.len() as f64;
    let errors: Vec<f64> = pairs.iter().map(|(p, o)| p - o).collect();
    (
        pairs.len() as u64,
        errors.iter().map(|e| e.abs()).sum::<f64>() / n,
        (errors.iter().map(|e| e * e).sum::<f64>() / n).sqrt(),
        errors.iter().sum::<f64>() / n,
    )
}

fn assert_figures(report: &AccuracyReport, version: &str, source: Source, pairs: &[(f64, f64)]) {
    let entry = report
        .versions
        .iter()
        .find(|v| v.model_version == version && v.source == source)
        .unwrap_or_else(|| panic!("{version} {source:?} in {report:?}"));
    let r = entry.regressor.as_ref().unwrap();
    let (count, mae, rmse, bias) = figures(pairs);
    assert_eq!(r.count, count, "{version} {source:?}");
    for (got, want) in [(r.mae, mae), (r.rmse, rmse), (r.bias, bias)] {
        assert!((got - want).abs() < 1e-9, "{version} {source:?}: {r:?}");
    }
}

#[tokio::test]
async fn outcomes_are_joined_by_the_rules_before_tonights_results_replace_the_stored_ones() {
    let now = Utc::now();
    let t0 = now - Duration::days(2);
    let at = |minutes: i64| t(t0 + Duration::minutes(minutes));
    let received = at(24 * 60);
    let table = Shared::default();
    for p in [
        stored("p-00001", 4.5, &at(0)),
        stored("p-00002", 5.0, &at(120)),
        stored("p-00004", 6.25, &at(0)),
    ] {
        table
            .0
            .items
            .lock()
            .unwrap()
            .insert(p.product_id.clone(), p);
    }
    let captures = MemoryCaptures::default();
    captures.requests.lock().unwrap().extend([
        // p-00003 was only answered online: the answer before the outcome counts, not
        // the one after.
        captured("g-1", &at(30), Some("p-00003"), &[5.5]),
        captured("g-2", &at(180), Some("p-00003"), &[9.0]),
        captured("g-3", &at(10), Some("p-00004"), &[6.0]),
        captured("r-1", &at(20), None, &[5.0, 7.0]),
    ]);
    let outcomes = SharedOutcomes::default();
    outcomes.0.outcomes.lock().unwrap().extend([
        outcome(product("p-00001"), 5.0, &at(60), &received),
        outcome(product("p-00002"), 5.0, &at(60), &received),
        outcome(product("p-00003"), 6.0, &at(60), &received),
        outcome(product("p-00004"), 7.0, &at(60), &received),
        outcome(request("r-1", 1), 6.5, &at(60), &received),
        outcome(request("r-1", 5), 6.5, &at(60), &received),
        outcome(request("r-unknown", 0), 6.5, &at(60), &received),
        outcome(product("p-09999"), 6.5, &at(60), &received),
        // Received before the window (the lookback, with no run before): not joined.
        outcome(
            product("p-00001"),
            1.0,
            &at(60),
            &t(now - Duration::days(8)),
        ),
    ]);
    let join = OutcomeJoin {
        outcomes: outcomes.clone(),
        captures: Some(captures),
        predictions: table.clone(),
        lookback_days: 7,
    };
    let job = job_with(&table, Some(Box::new(join)));

    let plan = plan_of(&job).await;
    let planned = plan.accuracy.clone().expect("the plan says the window");
    assert_eq!((planned.outcomes, planned.error), (8, None));
    assert!(
        serde_json::to_string(&plan).unwrap().len() < 4_000,
        "the report waits in the run log, not in the plan"
    );
    for slice in &plan.slices {
        score_slice_to_end(&job, slice.clone(), false).await;
    }
    let summary = summary_of(
        invoke_json(&job, serde_json::json!({ "finish": plan }), false)
            .await
            .unwrap(),
    );
    assert_eq!(summary.rows_written, 40);
    assert_eq!(
        &*table.0.snapshot()["p-00001"].model_version,
        "model-v1",
        "tonight's results replaced last night's, after the join read them"
    );
    let accuracy = summary.accuracy.clone().expect("an accuracy");
    assert_eq!(accuracy.outcomes, 8);
    // With no run before, the window reaches back the lookback (from the plan's time).
    let since: DateTime<Utc> = accuracy.since.parse().unwrap();
    let back = now - since;
    assert!(
        back > Duration::days(7) - Duration::minutes(1) && back <= Duration::days(7),
        "{back}"
    );
    assert_eq!(Some(accuracy.until.clone()), summary.planned_at);
    let report = accuracy.report.expect("a report");
    assert_figures(
        &report,
        "model-v0",
        Source::Nightly,
        &[(4.5, 5.0), (6.25, 7.0)],
    );
    assert_figures(
        &report,
        "model-v1",
        Source::Online,
        &[(5.5, 6.0), (6.0, 7.0), (7.0, 6.5)],
    );
    assert_eq!((report.joined, report.unmatched), (5, 4));
    for reason in [
        reasons::STORED_NEWER,
        reasons::NO_SUCH_ROW,
        reasons::UNKNOWN_REQUEST,
        reasons::NO_PREDICTION,
    ] {
        assert_eq!(report.unmatched_reasons[reason], 1, "{reason}: {report:?}");
    }

    // The next run's window starts where this one's ended: an outcome received since is
    // joined (with tonight's result), those of the first window are not again.
    let tonight = table.0.snapshot()["p-00001"].clone();
    outcomes.0.outcomes.lock().unwrap().push(outcome(
        product("p-00001"),
        4.0,
        &t(now + Duration::minutes(20)),
        &t(now + Duration::minutes(30)),
    ));
    let next = job
        .score_whole("nightly-next".into(), None, now + Duration::hours(1))
        .await
        .unwrap();
    let accuracy = next.accuracy.expect("an accuracy");
    assert_eq!(accuracy.since, summary.planned_at.unwrap());
    assert_eq!(accuracy.outcomes, 1);
    let report = accuracy.report.unwrap();
    let score = f64::from(tonight.answer.score().unwrap());
    assert_figures(&report, "model-v1", Source::Nightly, &[(score, 4.0)]);
    assert_eq!((report.joined, report.unmatched), (1, 0));
}

#[tokio::test]
async fn a_failing_outcome_store_is_said_in_the_summary_and_the_night_scores() {
    let table = Shared::default();
    let join = OutcomeJoin {
        outcomes: Unavailable,
        captures: None::<MemoryCaptures>,
        predictions: table.clone(),
        lookback_days: 7,
    };
    let job = job_with(&table, Some(Box::new(join)));
    let (summary, _) = run_to_completion(&job, false).await;
    assert_eq!((summary.rows_scanned, summary.rows_written), (40, 40));
    let accuracy = summary.accuracy.clone().expect("the failure is said");
    assert!(accuracy.report.is_none());
    let error = accuracy.error.unwrap();
    assert!(
        error.contains("could not be computed") && error.contains("timed out"),
        "{error}"
    );
    let json = serde_json::to_value(&summary).unwrap();
    assert!(json["accuracy"].get("joined").is_none(), "{json}");
    assert_eq!(
        serde_json::from_value::<AccuracySummary>(json["accuracy"].clone()).unwrap(),
        *summary.accuracy.unwrap()
    );

    // The same in one invocation (no state machine).
    let summary = invoke_scheduled(&job).await.unwrap();
    assert!(summary.accuracy.unwrap().error.is_some());
}

/// On a paused clock: the join's time limit passes at once.
#[tokio::test(start_paused = true)]
async fn a_join_that_stalls_is_given_up_and_the_night_scores() {
    let table = Shared::default();
    let join = OutcomeJoin {
        outcomes: Stalled,
        captures: None::<MemoryCaptures>,
        predictions: table.clone(),
        lookback_days: 7,
    };
    let job = job_with(&table, Some(Box::new(join)));
    let summary = invoke_scheduled(&job).await.unwrap();
    assert_eq!(summary.rows_written, 40);
    let error = summary.accuracy.unwrap().error.unwrap();
    assert!(
        error.contains(&format!(
            "longer than {} s",
            batch::accuracy::JOIN_TIMEOUT.as_secs()
        )),
        "{error}"
    );
}

#[tokio::test]
async fn without_an_outcomes_table_or_outcomes_there_is_no_accuracy_field() {
    let table = Shared::default();
    let (summary, _) = run_to_completion(&job_with(&table, None), false).await;
    assert!(summary.accuracy.is_none());
    let json = serde_json::to_value(&summary).unwrap();
    assert!(json.get("accuracy").is_none(), "{json}");
    assert!(json.get("planned_at").is_some(), "{json}");

    let join = OutcomeJoin {
        outcomes: MemoryOutcomes::default(),
        captures: Some(MemoryCaptures::default()),
        predictions: table.clone(),
        lookback_days: 7,
    };
    let job = job_with(&table, Some(Box::new(join)));
    let plan = plan_of(&job).await;
    assert!(plan.accuracy.is_none());
    let (summary, _) = run_to_completion(&job, false).await;
    assert!(summary.accuracy.is_none(), "no outcome arrived");
}

#[tokio::test]
async fn without_captures_products_join_the_stored_result_and_requests_are_unmatched() {
    let now = Utc::now();
    let earlier = t(now - Duration::days(1));
    let table = Shared::default();
    table
        .0
        .items
        .lock()
        .unwrap()
        .insert("p-00001".into(), stored("p-00001", 5.0, &earlier));
    let outcomes = MemoryOutcomes::default();
    let at = t(now - Duration::hours(2));
    outcomes.outcomes.lock().unwrap().extend([
        outcome(product("p-00001"), 6.0, &at, &at),
        outcome(request("r-1", 0), 6.0, &at, &at),
    ]);
    let join = OutcomeJoin {
        outcomes,
        captures: None::<MemoryCaptures>,
        predictions: table.clone(),
        lookback_days: 7,
    };
    let job = job_with(&table, Some(Box::new(join)));
    let summary = invoke_scheduled(&job).await.unwrap();
    let report = summary.accuracy.unwrap().report.unwrap();
    assert_figures(&report, "model-v0", Source::Nightly, &[(5.0, 6.0)]);
    assert_eq!(report.unmatched_reasons[reasons::NO_CAPTURES], 1);
}

#[tokio::test]
async fn a_run_emits_its_accuracy_per_version_and_for_the_alarms_as_emf() {
    use testkit::emf::{checked_document, sum, unit, with};
    testkit::alone!();
    let emf = aws_adapter::emf::Emf::install("BatchTest", "batch-test").unwrap();
    batch::telemetry::describe();
    let now = Utc::now();
    let before = t(now - Duration::days(1));
    let at = t(now - Duration::hours(2));
    let table = Shared::default();
    table
        .0
        .items
        .lock()
        .unwrap()
        .insert("p-00001".into(), stored("p-00001", 5.0, &before));
    let mut classified = captured("c-1", &before, None, &[]);
    classified.model_version = "clf-v1".into();
    classified.rows = ["a", "b"]
        .into_iter()
        .map(|label| CapturedRow {
            features: Features::default(),
            answer: CapturedAnswer::Class {
                label: store::capture::LabelValue::Text(label.into()),
                probabilities: [("a".to_owned(), 0.75), ("b".to_owned(), 0.25)]
                    .into_iter()
                    .collect(),
            },
            challenger: None,
        })
        .collect();
    let captures = MemoryCaptures::default();
    captures.requests.lock().unwrap().push(classified);
    let outcomes = MemoryOutcomes::default();
    let label = |row, l: &str| Outcome {
        subject: request("c-1", row),
        observed: Observed::Label(l.into()),
        observed_at: at.clone(),
        received_at: at.clone(),
    };
    outcomes.outcomes.lock().unwrap().extend([
        outcome(product("p-00001"), 7.0, &at, &at),
        label(0, "a"),
        label(1, "a"),
        outcome(product("p-09999"), 7.0, &at, &at),
    ]);
    let join = OutcomeJoin {
        outcomes,
        captures: Some(captures),
        predictions: table.clone(),
        lookback_days: 7,
    };
    let job = job_with(&table, Some(Box::new(join)));
    invoke_scheduled(&job).await.unwrap();

    let mut out = Vec::new();
    emf.flush_to(&mut out).unwrap();
    let docs: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| checked_document(l, "BatchTest"))
        .collect();
    let version = ["ModelVersion"];
    let only = |metric: &str, dims: &[&str]| {
        let found = with(&docs, metric, dims);
        (sum(&found, metric), found)
    };
    let (joined, found) = only("OutcomesJoined", &version);
    assert_eq!(joined, 3.0);
    assert_eq!(unit(found[0], "OutcomesJoined").as_deref(), Some("Count"));
    assert_eq!(only("OutcomesJoined", &[]).0, 3.0);
    assert_eq!(only("OutcomesUnmatched", &[]).0, 1.0);
    assert!(with(&docs, "OutcomesUnmatched", &version).is_empty());
    for dims in [&version[..], &[]] {
        assert_eq!(only("AccuracyMae", dims).0, 2.0, "{dims:?}");
        assert_eq!(only("AccuracyRmse", dims).0, 2.0, "{dims:?}");
        assert_eq!(only("AccuracyBias", dims).0, -2.0, "{dims:?}");
        let (rate, found) = only("AccuracyRate", dims);
        assert_eq!(rate, 50.0, "{dims:?}");
        assert_eq!(unit(found[0], "AccuracyRate").as_deref(), Some("Percent"));
        let loss = only("AccuracyLogLoss", dims).0;
        // Both observed "a", given 0.75 in both rows; the second row predicted "b".
        let want = -(0.75f64.ln());
        assert!((loss - want).abs() < 1e-12, "{loss} vs {want}");
    }
    let mae = with(&docs, "AccuracyMae", &version);
    assert_eq!(mae[0]["ModelVersion"], "model-v0");
    let rate = with(&docs, "AccuracyRate", &version);
    assert_eq!(rate[0]["ModelVersion"], "clf-v1");
}
