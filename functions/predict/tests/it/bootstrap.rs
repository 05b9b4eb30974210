//! The real `predict` binary, run as Lambda runs it: against a local Runtime API on
//! loopback, with moto for S3 and DynamoDB (`MOTO_ENDPOINT`, set by `make test`). Every
//! sample event goes through main.rs, lambda_http and the handler; a start without a model
//! fails the init.

use std::time::Duration;

use testkit::bootstrap::Bootstrap;
use testkit::moto::unique_name as unique;
use testkit::predict_support::{self, demo_model_bytes, event_files, repository, EXPECTED_STATUS};
use testkit::resources;
use testkit::runtime_api::RuntimeApi;
use testkit::stack::Clients;
use tokio::process::Child;

/// The process's moto server (started from the venv, set up if missing: never skipped).
pub(crate) fn moto_endpoint() -> String {
    testkit::moto::endpoint()
}

/// Bucket (with the model, if given) and a table with the wines; returns the function's env.
pub(crate) async fn stack(model: Option<Vec<u8>>) -> Vec<(&'static str, String)> {
    let c = Clients::for_endpoint(&moto_endpoint()).await;
    let (bucket, table) = (unique("models"), unique("attributes"));
    resources::create_bucket(&c.s3, &bucket).await.unwrap();
    if let Some(bytes) = model {
        resources::put_object(&c.s3, &bucket, "model.onnx", bytes)
            .await
            .unwrap();
    }
    resources::create_table(&c.dynamodb, &table).await.unwrap();
    let wines = testkit::demo_data::repository_wines().unwrap();
    resources::put_items(&c.dynamodb, &table, &wines[..5], |_| {})
        .await
        .unwrap();
    let predictions = unique("predictions");
    predict_support::store_nightly_result(&c.s3, &c.dynamodb, &bucket, &predictions).await;
    let mut env = testkit::moto::aws_env(&moto_endpoint());
    env.extend([
        ("MODEL_BUCKET", bucket),
        ("MODEL_KEY", "model.onnx".into()),
        ("ATTRIBUTES_TABLE", table),
        ("PREDICTIONS_TABLE", predictions),
        ("MODEL_NAME", predict_support::DEMO_MODEL_NAME.into()),
        ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true".into()),
    ]);
    env
}

/// The debug build of this machine's architecture.
pub(crate) fn native() -> Bootstrap {
    Bootstrap::native(env!("CARGO_BIN_EXE_predict"))
}

pub(crate) fn spawn(api: &RuntimeApi, env: Vec<(&'static str, String)>) -> Child {
    spawn_bootstrap(&native(), api, env)
}

pub(crate) fn spawn_bootstrap(
    bootstrap: &Bootstrap,
    api: &RuntimeApi,
    env: Vec<(&'static str, String)>,
) -> Child {
    api.launch(bootstrap, "predict").envs(env).spawn().unwrap()
}

#[tokio::test]
async fn every_event_through_the_bootstrap() {
    every_event_through(&native()).await;
}

/// Every sample event (GET, POST, the Open Inference Protocol's routes...) through
/// `bootstrap`, with its logs and metrics; returns its cold start (spawn to first `/next`).
pub(crate) async fn every_event_through(bootstrap: &Bootstrap) -> Duration {
    let api = RuntimeApi::start().await.unwrap();
    let env = stack(Some(demo_model_bytes())).await;
    let spawned = std::time::Instant::now();
    let mut child = spawn_bootstrap(bootstrap, &api, env);
    tokio::time::timeout(Duration::from_secs(60), api.wait_for_poll(1))
        .await
        .expect("init in time")
        .unwrap();
    let cold_start = api.polls()[0] - spawned;
    for file in event_files() {
        let expected = EXPECTED_STATUS.iter().find(|(f, _)| *f == file).unwrap().1;
        let event = std::fs::read(repository().join("events").join(&file)).unwrap();
        let done = tokio::time::timeout(Duration::from_secs(30), api.invoke(event))
            .await
            .expect("answer in time")
            .unwrap();
        assert_eq!(
            done.http_status(),
            Some(expected),
            "{file}: {:?}",
            done.http_body()
        );
        let body: serde_json::Value = serde_json::from_str(&done.http_body().unwrap()).unwrap();
        assert!(body.is_object(), "{file}: {body}");
    }
    // The versioned routes with the version the function reports (the S3 object's, which
    // no event file can know): the same answers as the unversioned ones.
    let answer = |event: serde_json::Value| {
        let api = &api;
        async move {
            let done = tokio::time::timeout(
                Duration::from_secs(30),
                api.invoke(event.to_string().into_bytes()),
            )
            .await
            .expect("answer in time")
            .unwrap();
            let body: serde_json::Value = serde_json::from_str(&done.http_body().unwrap()).unwrap();
            (done.http_status(), body)
        }
    };
    let (_, metadata) = answer(predict_support::event_json("v2-model-metadata.json")).await;
    let version = metadata["versions"][0].as_str().unwrap().to_owned();
    let versioned = format!(
        "/v2/models/{}/versions/{version}",
        predict_support::DEMO_MODEL_NAME
    );
    let (status, versioned_metadata) = answer(predict_support::event_at(
        "v2-model-metadata.json",
        &versioned,
    ))
    .await;
    assert_eq!((status, &versioned_metadata), (Some(200), &metadata));
    let (status, unversioned) = answer(predict_support::event_json("v2-infer.json")).await;
    assert_eq!(status, Some(200));
    let (status, infer) = answer(predict_support::event_at(
        "v2-infer.json",
        &format!("{versioned}/infer"),
    ))
    .await;
    assert_eq!((status, &infer), (Some(200), &unversioned));
    assert_eq!(infer["model_version"], version);
    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    // One JSON log line per request, naming route and status; no bodies.
    let logs = String::from_utf8_lossy(&out.stdout);
    let requests: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    assert_eq!(requests.len(), event_files().len() + 4, "{logs}");
    assert!(requests
        .iter()
        .all(|r| r["fields"]["status"].is_u64() && r["fields"]["latency_us"].is_u64()));
    assert!(
        !logs.contains("instances"),
        "request bodies must not be logged"
    );
    // The metrics: EMF lines on the same stdout, whole lines between the log lines, with
    // the cold start once and every request counted.
    let metrics: Vec<serde_json::Value> = logs
        .lines()
        .filter(|l| l.starts_with(r#"{"_aws""#))
        .map(|l| testkit::emf::checked_document(l, aws_adapter::emf::DEFAULT_NAMESPACE))
        .collect();
    let cold = testkit::emf::with(&metrics, "ColdStart", &["ModelVersion"]);
    assert_eq!(testkit::emf::sum(&cold, "ColdStart"), 1.0, "{logs}");
    for step in [
        "InitConfig",
        "InitClients",
        "InitModelFetch",
        "InitModelBuild",
        "InitTotal",
    ] {
        assert!(cold[0][step][0].as_f64().unwrap() >= 0.0, "{step}");
    }
    let counted = testkit::emf::with(
        &metrics,
        "Requests",
        &["ModelVersion", "Route", "StatusClass"],
    );
    assert_eq!(
        testkit::emf::sum(&counted, "Requests") as usize,
        requests.len(),
        "{logs}"
    );
    assert!(metrics.iter().all(|m| m["FunctionName"] == "predict"));
    cold_start
}

#[tokio::test]
async fn a_start_without_the_model_fails_the_init_with_a_json_log_line() {
    a_start_without_the_model_fails(&native()).await;
}

pub(crate) async fn a_start_without_the_model_fails(bootstrap: &Bootstrap) {
    let api = RuntimeApi::start().await.unwrap();
    let child = spawn_bootstrap(bootstrap, &api, stack(None).await);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("exits")
        .unwrap();
    assert!(!out.status.success());
    assert!(api.polls().is_empty(), "it must never ask for an event");
    let logs = String::from_utf8_lossy(&out.stdout);
    let line: serde_json::Value = logs
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("a JSON log line: {logs}"));
    let error = line["fields"]["error"].as_str().unwrap();
    assert!(
        error.starts_with("cannot load the model from s3://models-")
            && error.ends_with("/model.onnx: no such key"),
        "{error}"
    );
}

/// An event file of `events/`, as JSON, to derive odd events from.
fn event(file: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(repository().join("events").join(file)).unwrap()).unwrap()
}

/// Events a caller can make API Gateway deliver, or that a fuzzer sends straight to the
/// function, which lambda_http cannot convert (it panics on several) or which name no
/// product: each is the caller's mistake, a JSON 4xx, and the sandbox serves on.
fn odd_events() -> Vec<(&'static str, serde_json::Value, u16)> {
    let get = event("predict-get.json");
    let post = event("predict-post.json");
    let with = |base: &serde_json::Value, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut e = base.clone();
        edit(&mut e);
        e
    };
    let query = |q: &'static str| with(&get, &move |e| e["rawQueryString"] = q.into());
    let host = |h: &'static str| with(&get, &move |e| e["headers"]["host"] = h.into());
    let path = |p: String| {
        with(&get, &move |e| {
            e["rawPath"] = p.clone().into();
            e["requestContext"]["http"]["path"] = p.clone().into();
        })
    };
    vec![
        ("a quote in the query string", query("a=\"b\""), 400),
        (
            "angle brackets in the query string",
            query("q=<script>"),
            400,
        ),
        ("a space in the query string", query("a=b c"), 400),
        (
            "a control character in the query string",
            query("a=\u{1}"),
            400,
        ),
        ("a newline in the query string", query("a=\nb"), 400),
        (
            "a backslash and braces in the query string",
            query("a=\\{}|^`"),
            200,
        ),
        ("a lone % in the query string", query("a=%"), 200),
        ("a Host header with a space", host("exa mple.com"), 400),
        // The Host header must not steer the route (lambda_http builds the URI from it).
        ("a Host header with a slash", host("a/b"), 200),
        (
            "a Host header with a path",
            host("example.com/health?"),
            200,
        ),
        ("a Host header with a quote", host("\"evil\""), 400),
        (
            "a Host header with an unclosed IPv6 bracket",
            host("[::1"),
            400,
        ),
        (
            "a Host header with a port out of range",
            host("example.com:99999"),
            400,
        ),
        ("an empty Host header", host(""), 200),
        (
            "a header value with a control character",
            with(&get, &|e| e["headers"]["x-odd"] = "a\u{7}b".into()),
            400,
        ),
        (
            "a body marked base64 that is not",
            with(&post, &|e| {
                e["isBase64Encoded"] = true.into();
                e["body"] = "not base64 at all!".into();
            }),
            400,
        ),
        (
            "a body marked base64 holding bytes that are not JSON",
            with(&post, &|e| {
                e["isBase64Encoded"] = true.into();
                e["body"] = "//79/A==".into();
            }),
            400,
        ),
        // Odd but valid keys: looked up, not found.
        (
            "a raw quote in the path",
            path("/predict/\"x\"".into()),
            404,
        ),
        ("a space in the path", path("/predict/a b".into()), 404),
        ("an empty product id", path("/predict/".into()), 400),
        (
            "a %2F in the product id",
            path("/predict/a%2Fb".into()),
            400,
        ),
        ("a '..' product id", path("/predict/%2E%2E".into()), 400),
        (
            "path traversal",
            path("/predict/../../etc/passwd".into()),
            400,
        ),
        (
            "a product id over DynamoDB's key limit",
            path(format!("/predict/{}", "x".repeat(2049))),
            400,
        ),
        (
            "invalid UTF-8 in the product id",
            path("/predict/%C0%AF".into()),
            400,
        ),
        (
            "an event that is not an HTTP request",
            serde_json::json!({}),
            400,
        ),
        ("a JSON array", serde_json::json!([1, 2, 3]), 400),
        (
            "an HTTP API event without its context",
            serde_json::json!({"version": "2.0", "rawPath": "/health"}),
            400,
        ),
    ]
}

#[tokio::test]
async fn odd_events_get_a_json_4xx_and_the_sandbox_serves_on() {
    let api = RuntimeApi::start().await.unwrap();
    let mut child = spawn(&api, stack(Some(demo_model_bytes())).await);
    let log = drain(child.stdout.take().unwrap());
    tokio::time::timeout(Duration::from_secs(60), api.wait_for_poll(1))
        .await
        .expect("init in time")
        .unwrap();
    let mut wrong = Vec::new();
    for (what, event, expected) in odd_events() {
        let done = tokio::time::timeout(Duration::from_secs(30), api.invoke_json(&event))
            .await
            .unwrap_or_else(|_| panic!("{what}: no answer in time"))
            .unwrap();
        let status = done.http_status();
        let body = done.http_body().unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let leaks = [
            "panicked",
            ".rs:",
            "lambda_http",
            "aws_lambda_events",
            "attributes-",
        ];
        let answered = if expected == 200 {
            json["score"].is_number()
        } else {
            json["error"].is_string() && json["request_id"] == done.request_id.as_str()
        };
        if status != Some(expected) || !answered || leaks.iter().any(|l| body.contains(l)) {
            wrong.push(format!("{what}: {status:?} {body}"));
        }
    }
    // The same process still answers a plain request.
    let done = api.invoke(std::fs::read(repository().join("events/predict-get.json")).unwrap());
    let done = tokio::time::timeout(Duration::from_secs(30), done)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.http_status(), Some(200), "{:?}", done.http_body());
    assert!(
        child.try_wait().unwrap().is_none(),
        "the process must live on"
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let logs = log.await.unwrap();
    // Caller mistakes are warnings: an ERROR line would page someone for nothing.
    for line in logs.lines() {
        let line: serde_json::Value = serde_json::from_str(line).expect("JSON log lines");
        assert_ne!(line["level"], "ERROR", "{line}");
    }
    assert!(logs.contains("unreadable request"), "{logs}");
}

/// Pieces that break URLs, headers, JSON and keys, and a few that do not.
const ODD: &[&str] = &[
    "\"",
    "<",
    ">",
    "\\",
    "{",
    "}",
    "|",
    "^",
    "`",
    " ",
    "%",
    "%2F",
    "%2f",
    "%00",
    "%FF",
    "%C0%AF",
    "..",
    ".",
    "/",
    "?",
    "#",
    "&",
    "=",
    "\u{0}",
    "\u{1}",
    "\n",
    "\r",
    "\t",
    "\u{7f}",
    "é",
    "😀",
    "\u{202e}",
    "a",
    "wine-0001",
    "9",
    "-",
    "_",
    "~",
    "'",
    ";",
    ",",
    "+",
    "*",
    "@",
    ":",
    "[",
    "]",
    "$",
    "!",
    "%20",
    "%2E%2E",
];

fn junk(rng: &mut fastrand::Rng, max: usize) -> String {
    (0..rng.usize(0..=max))
        .map(|_| ODD[rng.usize(..ODD.len())])
        .collect()
}

fn junk_value(rng: &mut fastrand::Rng) -> serde_json::Value {
    use serde_json::json;
    match rng.u8(0..10) {
        0 => json!(1e308),
        1 => json!(-0.0),
        2 => json!(junk(rng, 6)),
        3 => serde_json::Value::Null,
        4 => json!([]),
        5 => json!({}),
        6 => json!(true),
        7 => json!(5e-324),
        8 => json!("x".repeat(10_000)),
        _ => json!(rng.i64(..)),
    }
}

/// `v[key]`, made an object first if an earlier change made it something else.
fn object<'a>(v: &'a mut serde_json::Value, key: &str) -> &'a mut serde_json::Value {
    if !v[key].is_object() {
        v[key] = serde_json::json!({});
    }
    &mut v[key]
}

/// One random change to an event, of the kinds a caller or a fuzzer can make.
fn mutate(rng: &mut fastrand::Rng, e: &mut serde_json::Value) {
    let v2 = e["version"] == "2.0";
    let (path, method) = if v2 {
        ("rawPath", None)
    } else {
        ("path", Some("httpMethod"))
    };
    match rng.u8(0..13) {
        0 => e[path] = format!("/predict/{}", junk(rng, 12)).into(),
        1 => e[path] = junk(rng, 12).into(),
        2 if v2 => e["rawQueryString"] = junk(rng, 12).into(),
        2 => e["queryStringParameters"] = serde_json::json!({ junk(rng, 3): junk(rng, 6) }),
        3 => object(e, "headers")[junk(rng, 3)] = junk(rng, 8).into(),
        4 => object(e, "headers")["host"] = junk(rng, 8).into(),
        5 => {
            e["body"] = junk(rng, 20).into();
            e["isBase64Encoded"] = rng.bool().into();
        }
        6 => {
            let feature = ["fixed_acidity", "alcohol", "pH", "nope", ""][rng.usize(..5)];
            let mut instance = serde_json::Map::new();
            instance.insert(feature.into(), junk_value(rng));
            e["body"] = serde_json::json!({ "instances": [instance] })
                .to_string()
                .into();
        }
        7 => {
            let verb =
                ["GET", "POST", "PUT", "DELETE", "", "G E T", "PATCH", "get"][rng.usize(..8)];
            let verb = if rng.u8(0..4) == 0 {
                junk(rng, 4)
            } else {
                verb.to_owned()
            };
            match method {
                Some(m) => e[m] = verb.into(),
                None => object(object(e, "requestContext"), "http")["method"] = verb.into(),
            }
        }
        8 => {
            let keys: Vec<String> = e.as_object().unwrap().keys().cloned().collect();
            e.as_object_mut()
                .unwrap()
                .remove(&keys[rng.usize(..keys.len())]);
        }
        9 => {
            let keys: Vec<String> = e.as_object().unwrap().keys().cloned().collect();
            e[&keys[rng.usize(..keys.len())]] = junk_value(rng);
        }
        // An Open Inference Protocol tensor with one field made odd.
        10 => {
            let mut body: serde_json::Value =
                serde_json::from_str(e["body"].as_str().unwrap_or_default()).unwrap_or_default();
            let Some(inputs) = body["inputs"].as_array_mut().filter(|i| !i.is_empty()) else {
                e["body"] = r#"{"inputs": [{"name": "ph", "shape": [1], "datatype": "FP32", "data": [3.2]}]}"#.into();
                return;
            };
            let at = rng.usize(..inputs.len());
            let field = ["name", "shape", "datatype", "data", "parameters"][rng.usize(..5)];
            inputs[at][field] = match (field, rng.bool()) {
                ("datatype", true) => {
                    ["FP16", "BOOL", "BYTES", "INT8", "UINT64", "fp32", ""][rng.usize(..7)].into()
                }
                ("parameters", true) => {
                    serde_json::json!({ "binary_data_size": junk_value(rng) })
                }
                ("shape", true) => serde_json::json!([rng.i64(-2..3), rng.i64(-2..3)]),
                _ => junk_value(rng),
            };
            e["body"] = body.to_string().into();
        }
        // Triton's binary data header, sane or not.
        11 => {
            object(e, "headers")["inference-header-content-length"] = if rng.bool() {
                rng.u32(..2000).to_string().into()
            } else {
                junk(rng, 4).into()
            }
        }
        _ => e["requestContext"] = junk_value(rng),
    }
}

#[tokio::test]
async fn a_seeded_fuzz_of_events_gets_no_5xx_no_leak_and_no_crash() {
    let api = RuntimeApi::start().await.unwrap();
    let mut child = spawn(&api, stack(Some(demo_model_bytes())).await);
    // Read its log as it comes: a full pipe would block the process on its next log line.
    let log = drain(child.stdout.take().unwrap());
    let _stderr = drain(child.stderr.take().unwrap());
    tokio::time::timeout(Duration::from_secs(60), api.wait_for_poll(1))
        .await
        .expect("init in time")
        .unwrap();
    let bases: Vec<serde_json::Value> = [
        "predict-get.json",
        "predict-post.json",
        "health.json",
        "rest-api-v1-predict-get.json",
        "v2-infer.json",
        "v2-model-metadata.json",
    ]
    .into_iter()
    .map(event)
    .collect();
    // FUZZ_SEED and FUZZ_EVENTS run another or a longer fuzz.
    let setting = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let mut rng = fastrand::Rng::with_seed(setting("FUZZ_SEED", 11));
    let mut wrong = Vec::new();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..setting("FUZZ_EVENTS", 400) {
        let mut e = bases[rng.usize(..bases.len())].clone();
        for _ in 0..rng.usize(1..=3) {
            mutate(&mut rng, &mut e);
        }
        let Ok(done) = tokio::time::timeout(Duration::from_secs(10), api.invoke_json(&e)).await
        else {
            let alive = child.try_wait().unwrap().is_none();
            panic!("event {i}: no answer within the function's timeout (alive: {alive}): {e}");
        };
        let done = done.unwrap();
        let Some(status) = done.http_status() else {
            wrong.push(format!("event {i}: not an HTTP answer: {:?}", done.outcome));
            continue;
        };
        *statuses.entry(status).or_default() += 1;
        let body = done.http_body().unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let leaks = [
            "panicked",
            ".rs:",
            "lambda_http",
            "attributes-",
            "Exception",
        ];
        let fine = status < 500
            && json.is_object()
            && (status < 400
                || (json["error"].is_string() && json["request_id"] == done.request_id.as_str()))
            && !leaks.iter().any(|l| body.contains(l));
        if !fine {
            wrong.push(format!("event {i}: {status} {body}\n  {e}"));
        }
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the process must live on"
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The fuzz reached the handler's answers as well as the refusals.
    assert!(
        statuses.contains_key(&200) && statuses.contains_key(&400),
        "{statuses:?}"
    );
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let log = log.await.unwrap();
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(r#""level":"ERROR""#))
        .collect();
    assert!(
        errors.is_empty(),
        "caller mistakes are not errors: {errors:?}"
    );
}

/// Everything a child writes to `pipe`, read as it comes.
pub(crate) fn drain(
    mut pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut out = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut pipe, &mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    })
}

#[tokio::test]
async fn a_dynamodb_outage_is_a_json_503_with_the_request_id_and_no_internals() {
    let api = RuntimeApi::start().await.unwrap();
    let mut env = stack(Some(demo_model_bytes())).await;
    let table = env
        .iter()
        .find(|(k, _)| *k == "ATTRIBUTES_TABLE")
        .unwrap()
        .1
        .clone();
    // A loopback port nobody listens on: every connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    env.push(("AWS_ENDPOINT_URL_DYNAMODB", format!("http://{closed}")));
    let mut child = spawn(&api, env);
    let log = drain(child.stdout.take().unwrap());
    tokio::time::timeout(Duration::from_secs(60), api.wait_for_poll(1))
        .await
        .expect("init in time")
        .unwrap();
    let get = std::fs::read(repository().join("events/predict-get.json")).unwrap();
    let done = tokio::time::timeout(Duration::from_secs(10), api.invoke(get))
        .await
        .expect("answered within the function's timeout")
        .unwrap();
    assert_eq!(done.http_status(), Some(503), "{:?}", done.http_body());
    let body = done.http_body().unwrap();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["request_id"], done.request_id.as_str(), "{body}");
    assert!(
        json["error"].as_str().unwrap().contains("try again"),
        "{body}"
    );
    for internal in [
        table.as_str(),
        "127.0.0.1",
        "dispatch",
        "GetItem",
        "refused",
    ] {
        assert!(!body.contains(internal), "{internal} in {body}");
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    // The detail is in the log, under the same request id.
    let log = log.await.unwrap();
    assert!(
        log.lines().any(|l| l.contains(r#""level":"ERROR""#)
            && l.contains(&done.request_id)
            && l.contains("GetItem")),
        "{log}"
    );
}
