//! The batch job with the real DynamoDB and S3 adapters against moto server: 10,000 rows
//! over 4 segments, reruns, a run fanned out into slices (its figures kept in S3 and summed
//! by the finish step) against one invocation, and the stored run summary.

use crate::batch_support as support;

use aws_adapter::dynamodb::{DynamoDbPredictions, DynamoDbScan};
use aws_adapter::s3::S3RunLog;
use aws_adapter::CallPolicy;
use batch::{Job, Summary};
use e2e::{clients, function_clients, moto_or_skip, unique};
use store::predictions::Prediction;
use support::{
    assert_every_row_once, demo_model, fast_settings, invoke_scheduled, products,
    run_to_completion, stored_predictions, RUN_ID,
};
use testkit::resources;

type MotoJob = Job<DynamoDbScan, DynamoDbPredictions, S3RunLog>;

struct Stack {
    job: MotoJob,
    predictions_table: String,
    bucket: String,
}

async fn stack(rows: usize, page_size: Option<i32>) -> (Stack, Vec<testkit::Item>) {
    stack_of(products(rows), page_size).await
}

async fn stack_of(
    items: Vec<testkit::Item>,
    page_size: Option<i32>,
) -> (Stack, Vec<testkit::Item>) {
    let c = clients().await;
    // The clients the function builds: its retry policy, and the counter of its retries.
    let f = function_clients(CallPolicy::BATCH).await;
    let (attributes, predictions, bucket) =
        (unique("attributes"), unique("predictions"), unique("runs"));
    resources::create_table(&c.dynamodb, &attributes)
        .await
        .unwrap();
    resources::create_table(&c.dynamodb, &predictions)
        .await
        .unwrap();
    resources::create_bucket(&c.s3, &bucket).await.unwrap();
    resources::put_items(&c.dynamodb, &attributes, &items, |_| {})
        .await
        .unwrap();
    let model = demo_model();
    let mut scan = DynamoDbScan::new(f.dynamodb.clone(), &attributes, model.features());
    if let Some(n) = page_size {
        scan = scan.with_page_size(n);
    }
    let job = Job {
        scan,
        sink: DynamoDbPredictions::new(f.dynamodb.clone(), &predictions),
        run_log: S3RunLog::new(f.s3.clone(), &bucket, "batch-runs/"),
        segments: 4,
        workers: 2,
        settings: fast_settings(),
        store_retries: Box::new(f.retries.clone()),
        accuracy: None,
        challenger: None,
        model,
    };
    (
        Stack {
            job,
            predictions_table: predictions,
            bucket,
        },
        items,
    )
}

/// Every item of the predictions table.
async fn results(table: &str) -> std::collections::HashMap<String, Prediction> {
    stored_predictions(&clients().await.dynamodb, table).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_rows_over_four_segments_each_written_once_and_reruns_are_idempotent() {
    moto_or_skip!();
    let (s, items) = stack(10_000, None).await;
    let (summary, invocations) = run_to_completion(&s.job, false).await;
    assert_eq!(invocations, 2, "one invocation per slice");
    assert_eq!(
        (
            summary.rows_scanned,
            summary.rows_written,
            summary.rows_rejected
        ),
        (10_000, 10_000, 0)
    );
    let first = results(&s.predictions_table).await;
    assert_every_row_once(&first, &items);

    // The same night's event again, scored whole in one invocation: the same items with
    // the same scores; scored_at is the time of scoring, so it moves.
    invoke_scheduled(&s.job).await.unwrap();
    let second = results(&s.predictions_table).await;
    assert_eq!(first.len(), second.len());
    for (id, p) in &first {
        assert_eq!(
            (&p.answer, &p.run_id, &p.model_version),
            (
                &second[id].answer,
                &second[id].run_id,
                &second[id].model_version
            )
        );
    }

    // The summary can be read back from S3.
    let c = clients().await;
    let latest =
        c.s3.get_object()
            .bucket(&s.bucket)
            .key("batch-runs/latest.json")
            .send()
            .await
            .unwrap();
    let latest: Summary =
        serde_json::from_slice(&latest.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(
        (
            latest.run_id.as_str(),
            latest.rows_written,
            latest.status.as_str()
        ),
        (RUN_ID, 10_000, "complete")
    );
    c.s3.head_object()
        .bucket(&s.bucket)
        .key(format!("batch-runs/{RUN_ID}.json"))
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_in_slices_cut_into_invocations_ends_like_a_one_shot_run() {
    moto_or_skip!();
    let (s, items) = stack(1_500, Some(100)).await;
    let (summary, invocations) = run_to_completion(&s.job, true).await;
    assert!(invocations >= 3, "{invocations} invocations");
    assert_eq!(summary.invocations as usize, invocations);
    assert_eq!(summary.rows_written, 1_500);
    assert_every_row_once(&results(&s.predictions_table).await, &items);
    // Each slice's figures were kept in S3 for the finish step.
    let c = clients().await;
    for slice in 0..2 {
        let key = format!("batch-runs/{RUN_ID}/slice-{slice}.json");
        let kept: serde_json::Value =
            serde_json::from_str(&resources::get_object(&c.s3, &s.bucket, &key).await.unwrap())
                .unwrap();
        assert_eq!(
            (kept["slice"].as_u64(), kept["done"].as_bool()),
            (Some(slice), Some(true))
        );
    }
    // The drift tallies travel with the slices: summed, the same figures as one invocation.
    let one_shot = invoke_scheduled(&s.job).await.unwrap();
    assert_eq!(one_shot.invocations, 1);
    let drift = summary.drift.expect("the demo model has a card");
    assert_eq!(Some(&drift), one_shot.drift.as_ref());
    assert_eq!(drift.rows, 1_500);
}

/// The demo wines with `feature` multiplied by `factor`.
fn shifted(feature: &str, factor: f64) -> Vec<testkit::Item> {
    let mut items = products(1_599);
    for item in &mut items {
        let value: f64 = item[feature].as_n().unwrap().parse().unwrap();
        item.insert(
            feature.into(),
            aws_adapter::aws_sdk_dynamodb::types::AttributeValue::N((value * factor).to_string()),
        );
    }
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_summary_reports_drift_a_shifted_table_drifts_and_the_training_table_does_not() {
    moto_or_skip!();
    let (s, _) = stack(1_599, None).await;
    let (summary, _) = run_to_completion(&s.job, false).await;
    let drift = summary.drift.expect("the demo model has a card");
    assert_eq!(drift.measure, "psi");
    assert_eq!(drift.rows, 1_599);
    assert_eq!(drift.features.len(), 11);
    assert!(drift.drifted.is_empty(), "{drift:?}");
    let max = drift.max_psi.unwrap();
    // The demo products are the training rows plus the held-out fifth: stable (< 0.1).
    assert!(max < 0.1, "{drift:?}");
    assert!(drift.score.as_ref().unwrap().psi.unwrap() < 0.1);
    // The stored summary carries the same figures.
    let stored: serde_json::Value = serde_json::from_str(
        &testkit::resources::get_object(&clients().await.s3, &s.bucket, "batch-runs/latest.json")
            .await
            .unwrap(),
    )
    .unwrap();
    let close = |a: Option<f64>, b: Option<f64>| (a.unwrap() - b.unwrap()).abs() < 1e-12;
    assert!(close(stored["drift"]["max_psi"].as_f64(), Some(max)));
    assert!(close(
        stored["drift"]["features"]["alcohol"]["psi"].as_f64(),
        drift.features["alcohol"].psi
    ));

    // Alcohol 20% higher: that feature drifts, the others do not.
    let (s, _) = stack_of(shifted("alcohol", 1.2), None).await;
    let (summary, _) = run_to_completion(&s.job, false).await;
    let drift = summary.drift.unwrap();
    assert!(drift.drifted.contains(&"alcohol".to_owned()), "{drift:?}");
    assert!(drift.features["alcohol"].psi.unwrap() > drift.threshold);
    assert!(drift.features["alcohol"].out_of_range_share > 0.0);
    for (name, d) in drift.features.iter().filter(|(n, _)| *n != "alcohol") {
        assert!(d.psi.unwrap() < 0.1, "{name}: {d:?}");
    }
    assert!(drift.max_psi.unwrap() >= drift.features["alcohol"].psi.unwrap());
}
