//! The nightly join on moto, through the real adapters: a first night stores its results;
//! outcomes then arrive in the outcomes table (for products scored nightly, for one scored
//! both nightly and online, for one scored only online, by request id and row) and
//! captures in the capture bucket; the second night joins them (BatchGetItem on the
//! predictions table, Query on the outcomes table's arrival index, the capture objects)
//! before its results replace the first night's, keeps the report in S3 for its finish
//! step, and its summary's figures are those the test computes from the same pairs.

use std::collections::BTreeMap;

use aws_adapter::config::DEFAULT_OUTCOME_RETENTION_DAYS;
use aws_adapter::dynamodb::{DynamoDbOutcomes, DynamoDbPredictions, DynamoDbScan};
use aws_adapter::s3::S3RunLog;
use aws_adapter::s3_captures::S3Captures;
use aws_adapter::CallPolicy;
use batch::join::OutcomeJoin;
use batch::matching::reasons;
use batch::Job;
use chrono::{Duration, Utc};
use e2e::{clients, function_clients, moto_or_skip, unique};
use scoring::accuracy::{reasons as domain, Source};
use store::capture::{CapturedAnswer, CapturedRequest, CapturedRow, Features, CAPTURE_FORMAT};
use store::outcomes::{Observed, Outcome, OutcomeSink, Subject, MAX_WRITE};
use testkit::batch_support::{demo_model, fast_settings, products, run_to_completion};
use testkit::resources;

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
        model_version: "online-v1".into(),
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

/// (count, MAE, RMSE, bias) of (prediction, observed) pairs.
fn figures(pairs: &[(f64, f64)]) -> (u64, f64, f64, f64) {
    let n = pairs.len() as f64;
    let e: Vec<f64> = pairs.iter().map(|(p, o)| p - o).collect();
    (
        pairs.len() as u64,
        e.iter().map(|x| x.abs()).sum::<f64>() / n,
        (e.iter().map(|x| x * x).sum::<f64>() / n).sqrt(),
        e.iter().sum::<f64>() / n,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_night_joins_outcomes_with_nightly_and_online_predictions() {
    moto_or_skip!();
    let c = clients().await;
    let f = function_clients(CallPolicy::BATCH).await;
    let (attributes, predictions, runs, outcomes_table, captures_bucket) = (
        unique("attributes"),
        unique("predictions"),
        unique("runs"),
        unique("outcomes"),
        unique("captures"),
    );
    for table in [&attributes, &predictions] {
        resources::create_table(&c.dynamodb, table).await.unwrap();
    }
    resources::create_outcomes_table(&c.dynamodb, &outcomes_table)
        .await
        .unwrap();
    for bucket in [&runs, &captures_bucket] {
        resources::create_bucket(&c.s3, bucket).await.unwrap();
    }
    resources::put_items(&c.dynamodb, &attributes, &products(300), |_| {})
        .await
        .unwrap();
    let model = demo_model();
    let job = Job {
        scan: DynamoDbScan::new(f.dynamodb.clone(), &attributes, model.features()),
        sink: DynamoDbPredictions::new(f.dynamodb.clone(), &predictions),
        run_log: S3RunLog::new(f.s3.clone(), &runs, "batch-runs/"),
        segments: 4,
        workers: 2,
        settings: fast_settings(),
        store_retries: Box::new(f.retries.clone()),
        accuracy: Some(Box::new(OutcomeJoin {
            outcomes: DynamoDbOutcomes::new(
                f.dynamodb.clone(),
                &outcomes_table,
                DEFAULT_OUTCOME_RETENTION_DAYS,
            ),
            captures: Some(S3Captures::new(f.s3.clone(), &captures_bucket, "captures/")),
            predictions: DynamoDbPredictions::new(f.dynamodb.clone(), &predictions),
            lookback_days: 7,
        })),
        challenger: None,
        model,
    };

    // The first night: no outcome yet, no accuracy.
    let (first, _) = run_to_completion(&job, false).await;
    assert_eq!(first.rows_written, 300);
    assert!(first.accuracy.is_none());
    let stored = testkit::batch_support::stored_predictions(&c.dynamodb, &predictions).await;

    // The day after: answers given online, then outcomes.
    let now = Utc::now();
    let t = |d: Duration| batch::run::rfc3339(now + d);
    let (answered, observed_at) = (t(Duration::seconds(1)), t(Duration::seconds(2)));
    let lines: String = [
        captured("g-1", &answered, Some("p-00010"), &[6.5]),
        captured("g-2", &answered, Some("online-only"), &[4.0]),
        // After the outcome: not what it answers.
        captured("g-3", &t(Duration::seconds(3)), Some("online-only"), &[9.0]),
        captured("req-1", &answered, None, &[5.0, 5.5, 7.25]),
    ]
    .iter()
    .map(|r| serde_json::to_string(r).unwrap() + "\n")
    .collect();
    resources::put_object(
        &c.s3,
        &captures_bucket,
        "captures/2026/12/08/01/delivery-1",
        lines.into_bytes(),
    )
    .await
    .unwrap();
    let received = t(Duration::seconds(3));
    let outcome = |subject: Subject, observed: Observed| Outcome {
        subject,
        observed,
        observed_at: observed_at.clone(),
        received_at: received.clone(),
    };
    let mut outcomes = Vec::new();
    let mut nightly = Vec::new();
    for i in 0..20 {
        let id = format!("p-{i:05}");
        let score = f64::from(stored[&id].answer.score().unwrap());
        let observed = score + [0.5, -1.25, 2.0, 0.0][i % 4];
        nightly.push((score, observed));
        outcomes.push(outcome(Subject::Product(id), Observed::Number(observed)));
    }
    let mut online = vec![(6.5, nightly[10].1), (4.0, 3.0)];
    outcomes.push(outcome(
        Subject::Product("online-only".into()),
        Observed::Number(3.0),
    ));
    for (row, (answer, observed)) in [(5.0, 6.0), (5.5, 5.5), (7.25, 6.0)]
        .into_iter()
        .enumerate()
    {
        online.push((answer, observed));
        outcomes.push(outcome(
            Subject::Request {
                id: "req-1".into(),
                row: row as u32,
            },
            Observed::Number(observed),
        ));
    }
    let unmatched = [
        (
            Subject::Request {
                id: "req-1".into(),
                row: 7,
            },
            Observed::Number(1.0),
        ),
        (
            Subject::Request {
                id: "req-nobody".into(),
                row: 0,
            },
            Observed::Number(1.0),
        ),
        (Subject::Product("p-99999".into()), Observed::Number(1.0)),
        (
            Subject::Product("p-00100".into()),
            Observed::Label("great".into()),
        ),
    ];
    outcomes.extend(unmatched.into_iter().map(|(s, o)| outcome(s, o)));
    let sink = DynamoDbOutcomes::new(c.dynamodb.clone(), &outcomes_table, 400);
    for chunk in outcomes.chunks(MAX_WRITE) {
        assert_eq!(sink.put(chunk).await.unwrap(), []);
    }
    // The outcomes arrived before the next night is planned.
    tokio::time::sleep(std::time::Duration::from_millis(3_500)).await;

    let (second, _) = run_to_completion(&job, false).await;
    assert_eq!(second.rows_written, 300);
    let accuracy = second.accuracy.expect("an accuracy");
    assert_eq!(Some(accuracy.since.clone()), first.planned_at);
    assert_eq!(Some(accuracy.until.clone()), second.planned_at);
    assert_eq!(accuracy.outcomes, outcomes.len() as u64);
    assert_eq!(accuracy.error, None);
    let kept = resources::get_object(
        &c.s3,
        &runs,
        &format!("batch-runs/{}/accuracy.json", second.run_id),
    )
    .await
    .expect("the planner kept the report for the finish step");
    assert!(kept.contains("\"versions\""), "{kept}");

    let report = accuracy.report.expect("a report");
    let want: BTreeMap<(&str, Source), (u64, f64, f64, f64)> = [
        (("model-v1", Source::Nightly), figures(&nightly)),
        (("online-v1", Source::Online), figures(&online)),
    ]
    .into_iter()
    .collect();
    assert_eq!(report.versions.len(), 2, "{report:?}");
    for entry in &report.versions {
        let r = entry.regressor.as_ref().unwrap();
        let (count, mae, rmse, bias) = want[&(entry.model_version.as_str(), entry.source)];
        assert_eq!(r.count, count, "{entry:?}");
        for (got, want) in [(r.mae, mae), (r.rmse, rmse), (r.bias, bias)] {
            assert!((got - want).abs() < 1e-9, "{entry:?}: {got} vs {want}");
        }
    }
    assert_eq!(report.joined, 25);
    assert_eq!(report.unmatched, 4);
    for reason in [
        reasons::NO_SUCH_ROW,
        reasons::UNKNOWN_REQUEST,
        reasons::NO_PREDICTION,
        domain::LABEL_FOR_REGRESSOR,
    ] {
        assert_eq!(report.unmatched_reasons[reason], 1, "{reason}: {report:?}");
    }
}
