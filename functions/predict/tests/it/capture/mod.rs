//! Capture through the handler with in-memory stores: which requests are captured at a
//! rate, what each scoring route's capture holds (the features the model read, its
//! answers, the challenger's), the `x-request-id` header on every scoring answer, and that
//! a capture changes nothing the caller gets back, written or not.

mod bootstrap;
mod routes;
mod sampling;
mod size;
mod undelivered;

use std::io::Write;
use std::sync::{Arc, Mutex};

use aws_adapter::config::CaptureRate;
use lambda_http::{Body, Request, Response};
use predict::capture::Capture;
use serde_json::Value;
use store::capture::CapturedRequest;
use testkit::predict_support::{demo_app, repository, DemoApp};

/// A sink the tests read back.
#[derive(Clone, Default)]
pub(crate) struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    /// Every line written, as text; each ends with a newline.
    pub(crate) fn lines(&self) -> Vec<String> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'), "whole lines");
        text.lines().map(str::to_owned).collect()
    }

    /// Every line read back in the capture format.
    pub(crate) fn captured(&self) -> Vec<CapturedRequest> {
        self.lines()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

/// A log that takes nothing.
pub(crate) struct Failing;

impl Write for Failing {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("the log is gone"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Err(std::io::Error::other("the log is gone"))
    }
}

pub(crate) fn rate(r: f64) -> CaptureRate {
    CaptureRate::new(r).unwrap()
}

/// The demo app capturing `r` of the scoring requests into the sink returned.
pub(crate) fn capturing(r: f64) -> (DemoApp, Shared) {
    let sink = Shared::default();
    (
        demo_app().with_capture(Capture::new(rate(r), sink.clone())),
        sink,
    )
}

/// Event file `file` with API Gateway's request id `id`, as the runtime hands it to the
/// handler; `edit` may change its body's JSON.
pub(crate) fn event(file: &str, id: &str, edit: impl FnOnce(&mut Value)) -> Request {
    // The function runs with the stage left out of paths; `request` sets that, once.
    let _ = testkit::predict_support::request("health.json");
    let text = std::fs::read_to_string(repository().join("events").join(file)).unwrap();
    let mut json: Value = serde_json::from_str(&text).unwrap();
    json["requestContext"]["requestId"] = id.into();
    if let Some(body) = json["body"].as_str().filter(|b| !b.is_empty()) {
        let mut body: Value = serde_json::from_str(body).unwrap();
        edit(&mut body);
        json["body"] = body.to_string().into();
    }
    lambda_http::request::from_str(&json.to_string()).unwrap()
}

/// A response as bytes: status, headers, body.
pub(crate) type Bytes = (u16, Vec<(String, Vec<u8>)>, Vec<u8>);

pub(crate) fn bytes(response: &Response<Body>) -> Bytes {
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

pub(crate) fn body(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

/// A response's `x-request-id`.
pub(crate) fn request_id(response: &Response<Body>) -> Option<&str> {
    response
        .headers()
        .get(predict::REQUEST_ID_HEADER)
        .map(|v| v.to_str().unwrap())
}
