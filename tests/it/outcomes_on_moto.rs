//! The outcomes table on moto: the adapter writes (a repeat replaces), reads back by arrival
//! across days and pages, hands back what DynamoDB left unprocessed; the predict function
//! (as initialised from its configuration) takes `POST /outcomes` into it, resends what is
//! left unprocessed, and answers a table throttled past its retries with a 503 that says
//! how many were written.

use std::collections::BTreeSet;

use aws_adapter::config::{ModelLocation, PredictConfig};
use aws_adapter::dynamodb::{DynamoDbOutcomes, MAX_ARRIVAL_DAYS};
use aws_adapter::{AwsClients, CallPolicy};
use e2e::{clients, moto_or_skip, unique};
use lambda_http::http::Method;
use scoring::LoadBudget;
use serde_json::{json, Value};
use store::outcomes::{Observed, Outcome, OutcomeSink, OutcomeSource, Subject, MAX_WRITE};
use store::ErrorKind;
use testkit::fault_proxy::{Fault, FaultProxy};
use testkit::resources;

const BATCH_WRITE_ITEM: &str = "BatchWriteItem";

fn outcome(i: usize, received_at: &str) -> Outcome {
    Outcome {
        subject: if i.is_multiple_of(2) {
            Subject::Product(format!("wine-{i:04}"))
        } else {
            Subject::Request {
                id: format!("req-{i}"),
                row: (i % 3) as u32,
            }
        },
        observed: if i.is_multiple_of(3) {
            Observed::Label(format!("class-{}", i % 4))
        } else {
            Observed::Number(i as f64 * 0.5)
        },
        observed_at: "2026-12-01T10:00:00.000Z".into(),
        received_at: received_at.into(),
    }
}

async fn table() -> String {
    let c = clients().await;
    let table = unique("outcomes");
    resources::create_outcomes_table(&c.dynamodb, &table)
        .await
        .unwrap();
    table
}

async fn put_all(sink: &DynamoDbOutcomes, outcomes: &[Outcome]) {
    for chunk in outcomes.chunks(MAX_WRITE) {
        assert_eq!(sink.put(chunk).await.unwrap(), []);
    }
}

fn sorted(mut outcomes: Vec<Outcome>) -> Vec<Outcome> {
    outcomes.sort_by_key(|o| format!("{:?} {}", o.subject, o.observed_at));
    outcomes
}

#[tokio::test]
async fn outcomes_are_written_replaced_and_read_back_by_arrival_across_days_and_pages() {
    moto_or_skip!();
    let table = table().await;
    // Through a proxy that counts the Queries.
    let proxy = FaultProxy::start(&e2e::endpoint()).await.unwrap();
    let sdk = testkit::moto::sdk_config(&proxy.endpoint()).await;
    let f = AwsClients::new(&sdk, CallPolicy::BATCH);
    // Few items per page: every day's read takes several pages.
    let outcomes = DynamoDbOutcomes::new(f.dynamodb.clone(), &table, 400).with_page_limit(7);
    // 90 outcomes over three days (and one second before and at the range's ends).
    let days = ["2026-12-05", "2026-12-06", "2026-12-07"];
    let all: Vec<Outcome> = (0..90)
        .map(|i| {
            let at = format!("{}T{:02}:{:02}:00.000Z", days[i % 3], i % 24, i % 60);
            outcome(i, &at)
        })
        .collect();
    put_all(&outcomes, &all).await;
    let early = outcome(1000, "2026-12-04T23:59:59.999Z");
    let at_until = outcome(1001, "2026-12-08T00:00:00.000Z");
    put_all(&outcomes, &[early.clone(), at_until.clone()]).await;

    let read = outcomes
        .arrived("2026-12-05T00:00:00Z", "2026-12-08T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(sorted(read), sorted(all.clone()));
    // Each day's 30 in pages of 7: 5 pages (the last one empty or short), 3 days.
    assert!(proxy.requests("Query") >= 15, "{}", proxy.requests("Query"));
    // A range within a day, with an offset: [05:00, 12:00) UTC of the 6th.
    let read = outcomes
        .arrived("2026-12-06T06:00:00+01:00", "2026-12-06T12:00:00.000Z")
        .await
        .unwrap();
    let want: Vec<Outcome> = all
        .iter()
        .filter(|o| {
            o.received_at.starts_with("2026-12-06")
                && ("2026-12-06T05:00:00.000Z".."2026-12-06T12:00:00.000Z")
                    .contains(&o.received_at.as_str())
        })
        .cloned()
        .collect();
    assert!(!want.is_empty());
    assert_eq!(sorted(read), sorted(want));
    assert_eq!(
        outcomes
            .arrived("2026-12-08T00:00:00Z", "2026-12-09T00:00:00Z")
            .await
            .unwrap(),
        [at_until]
    );

    // The same subject and observed_at again: replaced, the latest kept.
    let mut again = all[4].clone();
    again.observed = Observed::Number(99.0);
    again.received_at = "2026-12-07T23:00:00.000Z".into();
    put_all(&outcomes, std::slice::from_ref(&again)).await;
    let read = outcomes
        .arrived("2026-12-05T00:00:00Z", "2026-12-08T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(read.len(), 90);
    assert!(read.contains(&again) && !read.contains(&all[4]));
    // Twice in one write: DynamoDB would refuse the request; the last is written.
    let mut twice = [all[6].clone(), all[6].clone()];
    twice[1].observed = Observed::Label("last".into());
    assert_eq!(outcomes.put(&twice).await.unwrap(), []);
    let read = outcomes
        .arrived(&twice[1].received_at, "2026-12-08T00:00:00Z")
        .await
        .unwrap();
    assert!(read.contains(&twice[1]) && !read.contains(&twice[0]));

    // The range is bounded, with a message that says so; an empty one reads nothing.
    let err = outcomes
        .arrived("2020-01-01T00:00:00Z", "2026-12-08T00:00:00Z")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Refused);
    assert!(
        err.to_string()
            .contains(&format!("at most {MAX_ARRIVAL_DAYS}")),
        "{err}"
    );
    assert_eq!(
        outcomes
            .arrived("2026-12-08T00:00:00Z", "2026-12-05T00:00:00Z")
            .await
            .unwrap(),
        []
    );
}

#[tokio::test]
async fn what_dynamodb_leaves_unprocessed_is_handed_back() {
    moto_or_skip!();
    let table = table().await;
    let proxy = FaultProxy::start(&e2e::endpoint()).await.unwrap();
    let sdk = testkit::moto::sdk_config(&proxy.endpoint()).await;
    let clients = AwsClients::new(&sdk, CallPolicy::ONLINE);
    let outcomes = DynamoDbOutcomes::new(clients.dynamodb.clone(), &table, 400);
    let batch: Vec<Outcome> = (0..MAX_WRITE)
        .map(|i| outcome(i, "2026-12-07T10:00:00.000Z"))
        .collect();
    proxy.inject(BATCH_WRITE_ITEM, [Fault::Unprocessed(4)]);
    let unwritten = outcomes.put(&batch).await.unwrap();
    let keys = |o: &[Outcome]| -> BTreeSet<String> {
        o.iter().map(|o| format!("{:?}", o.subject)).collect()
    };
    assert_eq!(unwritten.len(), 4);
    let read = outcomes
        .arrived("2026-12-07T00:00:00Z", "2026-12-08T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(read.len(), MAX_WRITE - 4);
    let all = keys(&batch);
    let written = keys(&read);
    let left = keys(&unwritten);
    assert!(written.is_disjoint(&left));
    assert_eq!(written.union(&left).cloned().collect::<BTreeSet<_>>(), all);
    // Resent, they are written.
    assert_eq!(outcomes.put(&unwritten).await.unwrap(), []);
    assert_eq!(
        outcomes
            .arrived("2026-12-07T00:00:00Z", "2026-12-08T00:00:00Z")
            .await
            .unwrap()
            .len(),
        MAX_WRITE
    );
}

/// The predict function as initialised from its configuration, with its clients through a
/// fault proxy, and its outcomes table.
async fn predict_app() -> (FaultProxy, predict::AwsApp, String) {
    let c = clients().await;
    let bucket = unique("models");
    resources::create_bucket(&c.s3, &bucket).await.unwrap();
    resources::put_object(
        &c.s3,
        &bucket,
        "model.onnx",
        testkit::predict_support::demo_model_bytes(),
    )
    .await
    .unwrap();
    let table = table().await;
    let config = PredictConfig {
        load_budget: LoadBudget::unlimited(),
        model: ModelLocation {
            bucket,
            key: "model.onnx".into(),
        },
        attributes_table: unique("attributes"),
        predictions_table: unique("predictions"),
        runs_prefix: "batch-runs/".into(),
        model_name: "wine-quality".into(),
        challenger: None,
        outcomes_table: Some(table.clone()),
        outcome_retention_days: 30,
        capture_rate: aws_adapter::config::CaptureRate::OFF,
    };
    let proxy = FaultProxy::start(&e2e::endpoint()).await.unwrap();
    let sdk = testkit::moto::sdk_config(&proxy.endpoint()).await;
    let app = predict::init_with(&config, &AwsClients::new(&sdk, CallPolicy::ONLINE))
        .await
        .unwrap();
    (proxy, app, table)
}

async fn post(app: &predict::AwsApp, body: &Value) -> (u16, Value) {
    let request = testkit::predict_support::http(Method::POST, "/outcomes", body.to_string());
    let response = app.handle(request).await;
    (
        response.status().as_u16(),
        testkit::predict_support::json_body(&response),
    )
}

async fn items(
    table: &str,
) -> Vec<std::collections::HashMap<String, aws_adapter::aws_sdk_dynamodb::types::AttributeValue>> {
    let c = clients().await;
    c.dynamodb
        .scan()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}

#[tokio::test]
async fn post_outcomes_writes_the_table_resending_the_unprocessed_and_503_past_the_retries() {
    moto_or_skip!();
    let (proxy, app, table) = predict_app().await;
    let entries: Vec<Value> = (0..60)
        .map(|i| json!({"product_id": format!("wine-{i:04}"), "outcome": i, "observed_at": "2026-12-01T10:00:00+02:00"}))
        .collect();
    proxy.inject(BATCH_WRITE_ITEM, [Fault::Unprocessed(5)]);
    let (status, body) = post(&app, &json!(entries)).await;
    assert_eq!((status, &body), (200, &json!({"accepted": 60})));
    // Three chunks and one resend.
    assert_eq!(proxy.requests(BATCH_WRITE_ITEM), 4);
    let stored = items(&table).await;
    assert_eq!(stored.len(), 60);
    let item = stored
        .iter()
        .find(|i| i["subject"].as_s().unwrap() == "p#wine-0007")
        .unwrap();
    assert_eq!(
        item["observed_at"].as_s().unwrap(),
        "2026-12-01T08:00:00.000Z"
    );
    assert_eq!(item["outcome_n"].as_n().unwrap(), "7");
    let received = item["received_at"].as_s().unwrap();
    assert_eq!(item["received_on"].as_s().unwrap(), &received[..10]);
    let expires: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    let received = chrono::DateTime::parse_from_rfc3339(received)
        .unwrap()
        .timestamp();
    assert_eq!(expires - received, 30 * 86_400, "OUTCOME_RETENTION_DAYS");

    // Invalid: refused whole, nothing more written, no call made.
    let before = proxy.requests(BATCH_WRITE_ITEM);
    let mut bad = entries.clone();
    bad[59]["observed_at"] = json!("2026-12-01 10:00");
    let (status, body) = post(&app, &json!(bad)).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("outcomes[59].observed_at: "),
        "{body}"
    );
    assert_eq!(proxy.requests(BATCH_WRITE_ITEM), before);

    // Throttled past the SDK's retries: 503, saying none were written, leaking nothing.
    let attempts = CallPolicy::ONLINE.max_attempts as usize;
    proxy.inject(BATCH_WRITE_ITEM, vec![Fault::Throttle; attempts]);
    let (status, body) = post(&app, &json!(entries)).await;
    assert_eq!(status, 503, "{body}");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("0 of 60 outcomes were written"),
        "{message}"
    );
    assert!(
        !message.contains(&table) && !message.contains("Throughput"),
        "{message}"
    );
    // Sent again once the table is back: every outcome once.
    let (status, _) = post(&app, &json!(entries)).await;
    assert_eq!(status, 200);
    assert_eq!(items(&table).await.len(), 60);
}
