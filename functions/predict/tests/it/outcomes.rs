//! `POST /outcomes` with in-memory tables: every rule of the body, each refusal a 4xx naming
//! the entry and field, with nothing written; valid batches written whole; a table that
//! fails or leaves outcomes unwritten.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::Body;
use predict::outcomes::read::{MAX_OUTCOMES, MAX_OUTCOME_PRODUCT_ID_BYTES};
use predict::outcomes::write::ATTEMPTS;
use predict::{App, MAX_BODY_BYTES};
use serde_json::{json, Value};
use store::outcomes::{MemoryOutcomes, Observed, Outcome, OutcomeSink, Subject, MAX_WRITE};
use store::StoreError;
use testkit::predict_support::{demo_model, demo_store, http, json_body, DEMO_MODEL_NAME};

fn app<O: OutcomeSink>(
    sink: O,
) -> App<testkit::memory::InMemoryAttributes, predict::results::NoResults, O> {
    App::new(demo_model(), demo_store(), DEMO_MODEL_NAME).with_outcomes(Some(sink))
}

async fn post<O: OutcomeSink>(
    app: &App<testkit::memory::InMemoryAttributes, predict::results::NoResults, O>,
    body: impl Into<Body>,
) -> (StatusCode, Value) {
    let response = app.handle(http(Method::POST, "/outcomes", body)).await;
    (response.status(), json_body(&response))
}

fn now_minus(hours: i64) -> String {
    (chrono::Utc::now() - chrono::TimeDelta::hours(hours))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A valid entry about product `i`.
fn entry(i: usize) -> Value {
    json!({"product_id": format!("wine-{i:04}"), "outcome": 5.5, "observed_at": now_minus(1)})
}

#[tokio::test]
async fn a_valid_batch_is_written_whole_with_its_times_in_utc_milliseconds() {
    let app = app(MemoryOutcomes::default());
    let body = json!([
        {"product_id": "wine-0001", "outcome": 6, "observed_at": "2026-01-02T03:04:05+01:00"},
        {"request_id": "req-1", "row": 2, "outcome": "good", "observed_at": "2026-01-02T03:04:05.123456Z"},
        {"request_id": "req-2", "outcome": -0.25, "observed_at": "2026-01-02t03:04:05z"},
    ]);
    let before = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (status, answer) = post(&app, body.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({"accepted": 3}));
    let sink = app_sink(&app);
    let stored = sink.outcomes.lock().unwrap().clone();
    let want = [
        (
            Subject::Product("wine-0001".into()),
            Observed::Number(6.0),
            "2026-01-02T02:04:05.000Z",
        ),
        (
            Subject::Request {
                id: "req-1".into(),
                row: 2,
            },
            Observed::Label("good".into()),
            "2026-01-02T03:04:05.123Z",
        ),
        (
            Subject::Request {
                id: "req-2".into(),
                row: 0,
            },
            Observed::Number(-0.25),
            "2026-01-02T03:04:05.000Z",
        ),
    ];
    assert_eq!(stored.len(), 3);
    for (o, (subject, observed, at)) in stored.iter().zip(want) {
        assert_eq!(
            (&o.subject, &o.observed, o.observed_at.as_str()),
            (&subject, &observed, at)
        );
        assert!(
            o.received_at >= before && o.received_at.ends_with('Z'),
            "{}",
            o.received_at
        );
        assert_eq!(o.received_at.len(), "2026-01-02T03:04:05.000Z".len());
    }
}

/// The app's sink, for the tests to look into.
fn app_sink<O: OutcomeSink>(
    app: &App<testkit::memory::InMemoryAttributes, predict::results::NoResults, O>,
) -> &O {
    app.outcomes().expect("built with a sink")
}

#[tokio::test]
async fn the_wrapped_form_and_the_largest_batch_are_taken_and_a_repeat_replaces() {
    let app = app(MemoryOutcomes::default());
    let entries: Vec<Value> = (0..MAX_OUTCOMES).map(entry).collect();
    let (status, answer) = post(&app, json!({ "outcomes": entries }).to_string()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], MAX_OUTCOMES);
    assert_eq!(app_sink(&app).outcomes.lock().unwrap().len(), MAX_OUTCOMES);
    // The same subject and time again, and twice in one batch: replaced, the last kept.
    let at = "2026-03-01T00:00:00Z";
    let again = json!([
        {"product_id": "wine-0000", "outcome": 1, "observed_at": at},
        {"product_id": "wine-0000", "outcome": 2, "observed_at": "2026-03-01T01:00:00+01:00"},
    ]);
    assert_eq!(post(&app, again.to_string()).await.0, StatusCode::OK);
    assert_eq!(post(&app, again.to_string()).await.0, StatusCode::OK);
    let stored = app_sink(&app).outcomes.lock().unwrap().clone();
    let kept: Vec<&Outcome> = stored
        .iter()
        .filter(|o| o.observed_at == "2026-03-01T00:00:00.000Z")
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].observed, Observed::Number(2.0));
}

#[tokio::test]
async fn every_malformed_batch_is_a_4xx_naming_what_is_wrong_and_nothing_is_written() {
    let sink = MemoryOutcomes::default();
    let app = app(sink);
    let at = now_minus(1);
    let future = (chrono::Utc::now() + chrono::TimeDelta::minutes(10))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let good = entry(0);
    let with = |field: &str, value: Value| {
        let mut e = entry(1);
        e[field] = value;
        json!([good, e]).to_string()
    };
    let without = |field: &str| {
        let mut e = entry(1);
        e.as_object_mut().unwrap().remove(field);
        json!([good, e]).to_string()
    };
    let too_many: Vec<Value> = (0..=MAX_OUTCOMES).map(entry).collect();
    let cases: Vec<(&str, String, StatusCode, &str)> = vec![
        ("not JSON", "[{".into(), StatusCode::BAD_REQUEST, "the body must be JSON"),
        (
            "NaN, which JSON has not",
            format!(r#"[{{"product_id": "p", "outcome": NaN, "observed_at": "{at}"}}]"#),
            StatusCode::BAD_REQUEST,
            "the body must be JSON",
        ),
        ("not a list", json!({"product_id": "p"}).to_string(), StatusCode::BAD_REQUEST, "the body must be"),
        ("a number", "42".into(), StatusCode::BAD_REQUEST, "the body must be"),
        ("outcomes not a list", json!({"outcomes": {}}).to_string(), StatusCode::BAD_REQUEST, "outcomes must be a list"),
        ("a field beside outcomes", json!({"outcomes": [good], "x": 1}).to_string(), StatusCode::BAD_REQUEST, "x: unknown field"),
        ("empty", "[]".into(), StatusCode::BAD_REQUEST, "no outcomes"),
        ("1,001 entries", json!(too_many).to_string(), StatusCode::PAYLOAD_TOO_LARGE, "1001 outcomes; at most 1000"),
        ("an entry not an object", json!([good, 3]).to_string(), StatusCode::BAD_REQUEST, "outcomes[1]: must be a JSON object"),
        ("both ids", with("request_id", json!("r")), StatusCode::BAD_REQUEST, "outcomes[1]: has both product_id and request_id"),
        ("neither id", without("product_id"), StatusCode::BAD_REQUEST, "outcomes[1]: needs product_id or request_id"),
        ("empty product id", with("product_id", json!("")), StatusCode::BAD_REQUEST, "outcomes[1].product_id: is empty"),
        ("product id not a string", with("product_id", json!(7)), StatusCode::BAD_REQUEST, "outcomes[1].product_id: must be a string, not a number"),
        (
            "product id too long",
            with("product_id", json!("x".repeat(MAX_OUTCOME_PRODUCT_ID_BYTES + 1))),
            StatusCode::BAD_REQUEST,
            "outcomes[1].product_id: is 2047 bytes; at most 2046",
        ),
        ("row with a product", with("row", json!(1)), StatusCode::BAD_REQUEST, "outcomes[1].row: only with request_id"),
        (
            "empty request id",
            json!([good, {"request_id": "", "outcome": 1, "observed_at": at}]).to_string(),
            StatusCode::BAD_REQUEST,
            "outcomes[1].request_id: is empty",
        ),
        (
            "negative row",
            json!([good, {"request_id": "r", "row": -1, "outcome": 1, "observed_at": at}]).to_string(),
            StatusCode::BAD_REQUEST,
            "outcomes[1].row: must be an integer from 0",
        ),
        (
            "fractional row",
            json!([good, {"request_id": "r", "row": 1.5, "outcome": 1, "observed_at": at}]).to_string(),
            StatusCode::BAD_REQUEST,
            "outcomes[1].row: must be an integer from 0",
        ),
        (
            "row as a string",
            json!([good, {"request_id": "r", "row": "1", "outcome": 1, "observed_at": at}]).to_string(),
            StatusCode::BAD_REQUEST,
            "outcomes[1].row: must be an integer from 0, not a string",
        ),
        (
            "row too large",
            json!([good, {"request_id": "r", "row": 1u64 << 32, "outcome": 1, "observed_at": at}]).to_string(),
            StatusCode::BAD_REQUEST,
            "outcomes[1].row: must be an integer from 0 to 4294967295",
        ),
        ("outcome missing", without("outcome"), StatusCode::BAD_REQUEST, "outcomes[1].outcome: missing"),
        ("outcome null", with("outcome", Value::Null), StatusCode::BAD_REQUEST, "outcomes[1].outcome: must be a number or a label (a string), not null"),
        ("outcome a boolean", with("outcome", json!(true)), StatusCode::BAD_REQUEST, "not a boolean"),
        ("outcome an object", with("outcome", json!({"v": 1})), StatusCode::BAD_REQUEST, "not an object"),
        ("outcome a list", with("outcome", json!([1])), StatusCode::BAD_REQUEST, "not a list"),
        ("outcome an empty label", with("outcome", json!(" ")), StatusCode::BAD_REQUEST, "outcomes[1].outcome: is an empty label"),
        ("outcome too large", with("outcome", json!(1e200)), StatusCode::BAD_REQUEST, "outcomes[1].outcome: 1e+200 is out of range"),
        ("observed_at missing", without("observed_at"), StatusCode::BAD_REQUEST, "outcomes[1].observed_at: missing"),
        ("observed_at without offset", with("observed_at", json!("2026-01-02T03:04:05")), StatusCode::BAD_REQUEST, "outcomes[1].observed_at: \"2026-01-02T03:04:05\" is not an RFC 3339 time with an offset"),
        ("observed_at a date", with("observed_at", json!("2026-01-02")), StatusCode::BAD_REQUEST, "outcomes[1].observed_at: \"2026-01-02\" is not an RFC 3339"),
        ("observed_at garbage", with("observed_at", json!("yesterday")), StatusCode::BAD_REQUEST, "outcomes[1].observed_at: \"yesterday\" is not"),
        ("observed_at a number", with("observed_at", json!(1_700_000_000)), StatusCode::BAD_REQUEST, "outcomes[1].observed_at: must be an RFC 3339 time (a string), not a number"),
        ("observed_at far in the future", with("observed_at", json!(future)), StatusCode::BAD_REQUEST, "is in the future"),
        ("observed_at in 1999", with("observed_at", json!("1999-12-31T23:59:59Z")), StatusCode::BAD_REQUEST, "is before 2000-01-01T00:00:00Z"),
        ("an unknown field", with("score", json!(1)), StatusCode::BAD_REQUEST, "outcomes[1].score: unknown field"),
    ];
    for (what, body, want_status, want_message) in cases {
        let (status, answer) = post(&app, body).await;
        assert_eq!(status, want_status, "{what}: {answer}");
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(message.contains(want_message), "{what}: {message}");
    }
    assert!(app_sink(&app).outcomes.lock().unwrap().is_empty());
    // The fifth minute ahead is still now (clocks differ); the first of 2000 is taken.
    let soon = (chrono::Utc::now() + chrono::TimeDelta::minutes(4))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for ok in [soon.as_str(), "2000-01-01T00:00:00Z"] {
        let body = json!([{"product_id": "p", "outcome": "NaN", "observed_at": ok}]);
        assert_eq!(post(&app, body.to_string()).await.0, StatusCode::OK, "{ok}");
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_other_methods_405() {
    let app = app(MemoryOutcomes::default());
    let (status, answer) = post(&app, vec![b' '; MAX_BODY_BYTES + 1]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    let response = app
        .handle(http(Method::GET, "/outcomes", Body::Empty))
        .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "POST");
}

#[tokio::test]
async fn without_an_outcomes_table_the_route_says_so() {
    let app = App::new(demo_model(), demo_store(), DEMO_MODEL_NAME);
    let response = app
        .handle(http(
            Method::POST,
            "/outcomes",
            json!([entry(0)]).to_string(),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let message = json_body(&response)["error"].as_str().unwrap().to_owned();
    assert!(
        message.contains("no outcomes table (OUTCOMES_TABLE is not set)"),
        "{message}"
    );
}

/// A table that fails or leaves outcomes unwritten, as told, keeping what it writes.
#[derive(Default)]
struct Flaky {
    written: Mutex<Vec<Outcome>>,
    calls: AtomicUsize,
    /// Fail (`Some`) from this call on (0-based).
    fail_from: Option<(usize, fn() -> StoreError)>,
    /// Leave the last this many of a batch unwritten: of a larger batch (so a resend of
    /// what was left is written), or of every batch (`always`).
    leave: usize,
    always: bool,
}

impl OutcomeSink for Flaky {
    async fn put(&self, batch: &[Outcome]) -> Result<Vec<Outcome>, StoreError> {
        assert!(batch.len() <= MAX_WRITE, "{} in one write", batch.len());
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        if let Some((from, error)) = self.fail_from {
            if call >= from {
                return Err(error());
            }
        }
        let leave = match batch.len() {
            n if self.always => self.leave.min(n),
            n if n > self.leave => self.leave,
            _ => 0,
        };
        let (written, unwritten) = batch.split_at(batch.len() - leave);
        self.written.lock().unwrap().extend_from_slice(written);
        Ok(unwritten.to_vec())
    }
}

#[tokio::test]
async fn what_the_table_leaves_unwritten_is_resent() {
    let app = app(Flaky {
        leave: 3,
        ..Flaky::default()
    });
    let entries: Vec<Value> = (0..60).map(entry).collect();
    let (status, answer) = post(&app, json!(entries).to_string()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 60);
    let sink = app_sink(&app);
    let mut ids: Vec<String> = sink
        .written
        .lock()
        .unwrap()
        .iter()
        .map(|o| format!("{:?}", o.subject))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 60, "each written");
    // Three chunks (25, 25, 10), each sent once more for its last three.
    assert_eq!(sink.calls.load(Ordering::Relaxed), 6);
}

#[tokio::test]
async fn outcomes_always_left_unwritten_are_503_saying_how_many_were_written() {
    let app = app(Flaky {
        leave: 1,
        always: true,
        ..Flaky::default()
    });
    let entries: Vec<Value> = (0..30).map(entry).collect();
    let (status, answer) = post(&app, json!(entries).to_string()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    let message = answer["error"].as_str().unwrap();
    assert!(
        message.contains("24 of 30 outcomes were written"),
        "{message}"
    );
    assert!(message.contains("send the batch again (safe"), "{message}");
    // The first chunk: sent, then resent until the attempts ran out; the second never.
    assert_eq!(
        app_sink(&app).calls.load(Ordering::Relaxed),
        ATTEMPTS as usize
    );
}

#[tokio::test]
async fn a_failing_table_is_503_or_500_saying_how_many_were_written() {
    let entries: Vec<Value> = (0..60).map(entry).collect();
    let unavailable = app(Flaky {
        fail_from: Some((1, || StoreError::unavailable("throttled"))),
        ..Flaky::default()
    });
    let (status, answer) = post(&unavailable, json!(entries).to_string()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    let message = answer["error"].as_str().unwrap();
    assert!(
        message.contains("unavailable right now: 25 of 60 outcomes were written"),
        "{message}"
    );

    let refused = app(Flaky {
        fail_from: Some((0, || StoreError::refused("AccessDenied"))),
        ..Flaky::default()
    });
    let (status, answer) = post(&refused, json!(entries).to_string()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
    let message = answer["error"].as_str().unwrap();
    assert!(message.contains("refused the write"), "{message}");
    assert!(
        message.contains("0 of 60 outcomes were written"),
        "{message}"
    );
    assert!(
        !message.contains("AccessDenied"),
        "the detail goes to the log: {message}"
    );
}

#[tokio::test]
async fn the_errors_docs_api_md_shows_are_the_functions_own() {
    let app = app(MemoryOutcomes::default());
    let good = entry(0);
    for (body, want) in [
        (
            json!([good, {"product_id": "p", "outcome": 1, "observed_at": "2026-12-07T18:00:00"}]),
            "outcomes[1].observed_at: \"2026-12-07T18:00:00\" is not an RFC 3339 time with an \
             offset, like 2026-12-07T21:30:00Z or 2026-12-07T22:30:00+01:00 (premature end of \
             input)",
        ),
        (
            json!([{"product_id": "p", "request_id": "r", "outcome": 1, "observed_at": "2026-12-07T18:00:00Z"}]),
            "outcomes[0]: has both product_id and request_id; give exactly one",
        ),
        (
            json!([good, good, good, good, {"product_id": "p", "outcome": true, "observed_at": "2026-12-07T18:00:00Z"}]),
            "outcomes[4].outcome: must be a number or a label (a string), not a boolean",
        ),
    ] {
        let (status, answer) = post(&app, body.to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(answer["error"], want);
    }
}

#[tokio::test]
async fn a_seeded_fuzz_of_batches_gets_200_or_a_4xx_never_a_5xx() {
    let app = app(MemoryOutcomes::default());
    let mut rng = fastrand::Rng::with_seed(26);
    let values = [
        Value::Null,
        json!(true),
        json!(-1),
        json!(0),
        json!(1.5),
        json!(1e300),
        json!(u64::MAX),
        json!(""),
        json!(" "),
        json!("x"),
        json!("é#/.."),
        json!("2026-12-07T18:00:00Z"),
        json!("2026-12-07T18:00:00.123456789+14:00"),
        json!("9999-12-31T23:59:59Z"),
        json!("2026-02-30T00:00:00Z"),
        json!("2026-12-07T23:59:60Z"),
        json!([]),
        json!({}),
        json!([{"product_id": "nested"}]),
    ];
    let fields = [
        "product_id",
        "request_id",
        "row",
        "outcome",
        "observed_at",
        "extra",
    ];
    let mut seen = std::collections::BTreeMap::new();
    for round in 0..400 {
        let n = rng.usize(1..6);
        let mut entries: Vec<Value> = (0..n).map(entry).collect();
        for _ in 0..rng.usize(0..4) {
            let e = &mut entries[rng.usize(0..n)];
            let field = fields[rng.usize(0..fields.len())];
            if rng.bool() {
                e[field] = values[rng.usize(0..values.len())].clone();
            } else if let Some(object) = e.as_object_mut() {
                object.remove(field);
            }
        }
        let mut body = json!(entries).to_string();
        if round % 10 == 0 {
            // Bytes cut or swapped: mostly not JSON.
            let mut bytes = body.into_bytes();
            let at = rng.usize(0..bytes.len());
            bytes[at] = rng.u8(..);
            bytes.truncate(rng.usize(at..=bytes.len()));
            body = String::from_utf8_lossy(&bytes).into_owned();
        }
        let (status, answer) = post(&app, body.clone()).await;
        assert!(
            status == StatusCode::OK || status.is_client_error(),
            "{body} -> {status} {answer}"
        );
        assert!(answer.is_object(), "{body}");
        *seen.entry(status.as_u16()).or_insert(0) += 1;
    }
    // Both kinds of answer were met, each often.
    assert!(seen[&200] > 40 && seen[&400] > 40, "{seen:?}");
}
