//! What callers get with a challenger beside the model: the champion's answers, byte for
//! byte, whatever the challenger is; `/health` alone says one is there.

use lambda_http::http::Method;
use lambda_http::Request;
use serde_json::{json, Value};
use testkit::predict_support::{demo_app, event_files, http, json_body, request, wine_instance};

use super::{bytes, every_challenger, get};

/// Every request the champion answers or refuses: each sample event but `/health`, and
/// the scoring routes explained, with several rows, in binary, and refused.
fn requests() -> Vec<(String, Box<dyn Fn() -> Request>)> {
    let mut all: Vec<(String, Box<dyn Fn() -> Request>)> = event_files()
        .into_iter()
        .filter(|f| f != "health.json")
        .map(|file| {
            let name = file.clone();
            (
                name,
                Box::new(move || request(&file)) as Box<dyn Fn() -> Request>,
            )
        })
        .collect();
    let instances: Vec<Value> = (0..5).map(wine_instance).collect();
    let mut missing = wine_instance(3);
    missing.as_object_mut().unwrap().remove("alcohol");
    let infer_rows = |n: usize| -> Value {
        let rows: Vec<Value> = (0..n).map(wine_instance).collect();
        let names: Vec<String> = rows[0].as_object().unwrap().keys().cloned().collect();
        json!({
            "inputs": names.iter().map(|name| json!({
                "name": name,
                "shape": [n],
                "datatype": "FP64",
                "data": rows.iter().map(|r| r[name].clone()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>()
        })
    };
    let mut explained_infer = infer_rows(3);
    explained_infer["parameters"] = json!({"explain": true});
    let mut binary_infer = infer_rows(4);
    binary_infer["parameters"] = json!({"binary_data_output": true});
    let infer = "/v2/models/wine-quality/infer";
    let extra: Vec<(&str, Method, &str, String)> = vec![
        (
            "GET explained",
            Method::GET,
            "/predict/wine-0002?explain=true",
            String::new(),
        ),
        (
            "GET model=champion",
            Method::GET,
            "/predict/wine-0003?model=champion",
            String::new(),
        ),
        ("GET unknown", Method::GET, "/predict/nope", String::new()),
        (
            "POST 5",
            Method::POST,
            "/predict",
            json!({ "instances": instances }).to_string(),
        ),
        (
            "POST 5 explained",
            Method::POST,
            "/predict",
            json!({ "instances": instances, "explain": true }).to_string(),
        ),
        (
            "POST model=champion",
            Method::POST,
            "/predict?model=champion",
            json!({ "instances": instances }).to_string(),
        ),
        (
            "POST missing attribute",
            Method::POST,
            "/predict",
            json!({ "instances": [wine_instance(0), missing] }).to_string(),
        ),
        ("POST malformed", Method::POST, "/predict", "{".into()),
        (
            "OIP infer 7",
            Method::POST,
            infer,
            infer_rows(7).to_string(),
        ),
        (
            "OIP infer explained",
            Method::POST,
            infer,
            explained_infer.to_string(),
        ),
        (
            "OIP infer binary",
            Method::POST,
            infer,
            binary_infer.to_string(),
        ),
    ];
    for (name, method, path, body) in extra {
        let path = path.to_owned();
        all.push((
            name.to_owned(),
            Box::new(move || http(method.clone(), &path, body.clone())),
        ));
    }
    all
}

#[tokio::test]
async fn callers_get_the_champions_answers_byte_for_byte_whatever_the_challenger() {
    let alone = demo_app();
    let requests = requests();
    let mut answered = 0;
    for (challenger, app) in every_challenger() {
        for (name, request) in &requests {
            let without = alone.handle(request()).await;
            let with = app.handle(request()).await;
            assert_eq!(
                bytes(&with),
                bytes(&without),
                "{name} with the challenger {challenger}: {:?}",
                with.body()
            );
            answered += usize::from(with.status() == 200);
        }
    }
    // Most of them are answers, not refusals: the challenger ran beside them.
    assert!(answered >= 5 * 15, "{answered}");
}

#[tokio::test]
async fn health_names_the_challenger_only_when_one_is_configured() {
    let alone = demo_app().handle(get("/health")).await;
    let health = json_body(&alone);
    assert!(health.get("challenger").is_none(), "{health}");

    let white = super::with_challenger(testkit::models::challengers::WHITE)
        .handle(get("/health"))
        .await;
    let mut with = json_body(&white);
    assert_eq!(
        with["challenger"],
        json!({
            "loaded": true,
            "model_name": "wine-quality-challenger",
            "model_version": "wine_quality_white-v1",
            "task": "regression",
        })
    );
    // Everything else is the champion's, as without a challenger.
    with.as_object_mut().unwrap().remove("challenger");
    assert_eq!(with, health);

    let grade = super::with_challenger(testkit::models::challengers::GRADE)
        .handle(get("/health"))
        .await;
    let challenger = &json_body(&grade)["challenger"];
    assert_eq!(challenger["task"], "classification");
    let mut classes: Vec<&str> = challenger["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    classes.sort();
    assert_eq!(classes, ["high", "low", "medium"]);

    let failed = demo_app()
        .with_failed_challenger()
        .handle(get("/health"))
        .await;
    assert_eq!(failed.status(), 200, "the champion serves: healthy");
    let challenger = &json_body(&failed)["challenger"];
    assert_eq!(challenger["loaded"], false);
    let reason = challenger["reason"].as_str().unwrap();
    assert!(reason.contains("failed to load at cold start"), "{reason}");
    assert!(reason.contains("log"), "{reason}");
}
