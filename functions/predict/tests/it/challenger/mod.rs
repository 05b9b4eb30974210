//! The challenger beside the champion, through the handler with in-memory stores: callers
//! get the champion's answers byte for byte whatever the challenger is (agreeing,
//! disagreeing, needing an attribute the rows lack, another kind of model, failed to
//! load); the challenger answers when asked for by `?model=challenger` or its Open
//! Inference Protocol name; `/health` names it; and its metrics, per pair of versions, say
//! how it compares. The fixtures are `model/challengers/` (`testkit::models`).

mod answers;
mod bootstrap;
mod direct;
mod metrics;
mod pairs;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use scoring::Model;
use testkit::models::{challenger, challengers};
use testkit::predict_support::{demo_app, http, repository, DemoApp};

/// The challenger fixture `name`, at version `{name}-v1`.
fn challenger_model(name: &str) -> Model {
    Model::load(&challenger(name), format!("{name}-v1")).unwrap()
}

/// The demo app with the challenger fixture `name` beside its model.
fn with_challenger(name: &str) -> DemoApp {
    demo_app().with_challenger(challenger_model(name))
}

/// The demo classifier (`wine_good_classifier`, classes "bad" and "good", reads `color`).
fn good_classifier() -> Model {
    let bytes = std::fs::read(repository().join("model/wine_good_classifier.onnx")).unwrap();
    Model::load(&bytes, "good-v1").unwrap()
}

/// Every kind of challenger the tests put beside the demo regressor: each fixture, and
/// one configured that failed to load.
fn every_challenger() -> Vec<(&'static str, DemoApp)> {
    let mut apps: Vec<(&'static str, DemoApp)> = challengers::ALL
        .iter()
        .map(|name| (*name, with_challenger(name)))
        .collect();
    apps.push(("failed to load", demo_app().with_failed_challenger()));
    apps
}

/// A response's status, headers and body, as bytes.
type Bytes = (u16, Vec<(String, Vec<u8>)>, Vec<u8>);

/// The response as bytes: status, headers and body.
fn bytes(response: &Response<Body>) -> Bytes {
    (
        response.status().as_u16(),
        response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect(),
        response.body().as_ref().to_vec(),
    )
}

fn get(path: &str) -> Request {
    http(Method::GET, path, Body::Empty)
}

fn post(path: &str, body: &serde_json::Value) -> Request {
    http(Method::POST, path, body.to_string())
}
