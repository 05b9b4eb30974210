//! `POST /outcomes` through the real `predict` binary (main.rs, lambda_http, the handler,
//! the DynamoDB adapter), against a local Runtime API and moto: a valid batch lands in the
//! outcomes table the environment names; an invalid one is a 400 naming the entry, and
//! nothing of it is written; a body that is not even JSON is a 400 too.

use std::time::Duration;

use serde_json::{json, Value};
use testkit::moto::unique_name as unique;
use testkit::predict_support::{demo_model_bytes, event_at};
use testkit::resources;
use testkit::runtime_api::RuntimeApi;
use testkit::stack::Clients;

use crate::bootstrap::{moto_endpoint, spawn, stack};

/// `POST /outcomes` with `body`, as API Gateway delivers it.
fn post(body: &str) -> Vec<u8> {
    let mut event = event_at("predict-post.json", "/outcomes");
    event["routeKey"] = "POST /outcomes".into();
    event["requestContext"]["routeKey"] = "POST /outcomes".into();
    event["body"] = body.into();
    event.to_string().into_bytes()
}

#[tokio::test]
async fn posted_outcomes_land_in_the_table_and_bad_ones_are_a_400() {
    let c = Clients::for_endpoint(&moto_endpoint()).await;
    let table = unique("outcomes");
    resources::create_outcomes_table(&c.dynamodb, &table)
        .await
        .unwrap();
    let mut env = stack(Some(demo_model_bytes())).await;
    env.push(("OUTCOMES_TABLE", table.clone()));
    let api = RuntimeApi::start().await.unwrap();
    let mut child = spawn(&api, env);
    tokio::time::timeout(Duration::from_secs(60), api.wait_for_poll(1))
        .await
        .expect("init in time")
        .unwrap();
    let call = |body: String| {
        let api = &api;
        async move {
            let done = tokio::time::timeout(Duration::from_secs(30), api.invoke(post(&body)))
                .await
                .expect("answer in time")
                .unwrap();
            let answer: Value = serde_json::from_str(&done.http_body().unwrap()).unwrap();
            (done.http_status(), answer)
        }
    };
    let valid = json!({"outcomes": [
        {"product_id": "wine-0001", "outcome": 6, "observed_at": "2026-11-30T18:00:00-05:00"},
        {"request_id": "Ab1cDEfGhIJkLMn=", "row": 1, "outcome": "good", "observed_at": "2026-12-01T00:00:00Z"},
    ]});
    let (status, answer) = call(valid.to_string()).await;
    assert_eq!((status, &answer), (Some(200), &json!({"accepted": 2})));

    let invalid = json!([
        {"product_id": "wine-0002", "outcome": 5, "observed_at": "2026-12-01T00:00:00Z"},
        {"product_id": "wine-0003", "outcome": true, "observed_at": "2026-12-01T00:00:00Z"},
    ]);
    let (status, answer) = call(invalid.to_string()).await;
    assert_eq!(status, Some(400), "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("outcomes[1].outcome: must be a number or a label"),
        "{answer}"
    );
    let (status, answer) = call("outcomes, please".into()).await;
    assert_eq!(status, Some(400), "{answer}");

    let items = c
        .dynamodb
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let mut stored: Vec<(String, String)> = items
        .iter()
        .map(|i| {
            (
                i["subject"].as_s().unwrap().clone(),
                i["observed_at"].as_s().unwrap().clone(),
            )
        })
        .collect();
    stored.sort();
    assert_eq!(
        stored,
        [
            ("p#wine-0001".into(), "2026-11-30T23:00:00.000Z".into()),
            (
                "r#Ab1cDEfGhIJkLMn=#1".into(),
                "2026-12-01T00:00:00.000Z".into()
            ),
        ]
    );
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}
