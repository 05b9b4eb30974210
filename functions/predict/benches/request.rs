//! The warm request path with no I/O: an API Gateway event in, the JSON response out,
//! with the demo model and an in-memory attribute store.

use criterion::{criterion_group, criterion_main, Criterion};
use lambda_http::Request;
use predict::App;
use scoring::Model;
use testkit::memory::InMemoryAttributes;

fn repository() -> std::path::PathBuf {
    testkit::moto::repository_root()
}

fn event(file: &str) -> String {
    std::fs::read_to_string(repository().join("events").join(file)).unwrap()
}

fn app() -> App<InMemoryAttributes> {
    let model = Model::load(
        &std::fs::read(repository().join("model/wine_quality.onnx")).unwrap(),
        "bench",
    )
    .unwrap();
    // The wines as the DynamoDB adapter reads them.
    let rows = testkit::demo_data::repository_wines()
        .unwrap()
        .into_iter()
        .filter_map(aws_adapter::dynamodb::scanned_row)
        .map(|scanned| (scanned.product_id, scanned.row))
        .collect();
    App::new(
        model,
        InMemoryAttributes {
            rows,
            failure: None,
        },
        "wine-quality",
    )
}

/// `file`'s event with its body's JSON edited by `edit`.
fn with_body(file: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut event: serde_json::Value = serde_json::from_str(&event(file)).unwrap();
    let mut body: serde_json::Value =
        serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
    edit(&mut body);
    event["body"] = body.to_string().into();
    event.to_string()
}

/// `POST /predict` with one instance.
fn one_row_post() -> String {
    with_body("predict-post.json", |b| {
        b["instances"].as_array_mut().unwrap().truncate(1)
    })
}

/// One row, the same wine, through `POST /predict` and the Open Inference Protocol's
/// `POST /v2/models/{name}/infer` (one `[1]` FP32 tensor per feature): the protocol's
/// overhead, event in, response out.
fn one_row_both_ways(c: &mut Criterion) {
    let app = app();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let post = one_row_post();
    let infer = with_body("v2-infer.json", |b| {
        b.as_object_mut().unwrap().remove("outputs");
        for t in b["inputs"].as_array_mut().unwrap() {
            t["shape"] = serde_json::json!([1]);
            t["data"].as_array_mut().unwrap().truncate(1);
        }
    });
    let answer = |json: &str| {
        let request: Request = lambda_http::request::from_str(json).unwrap();
        let response = runtime.block_on(app.handle(request));
        assert_eq!(response.status(), 200, "{:?}", response.body());
        serde_json::from_slice::<serde_json::Value>(response.body().as_ref()).unwrap()
    };
    // The same wine, the same answer.
    assert_eq!(
        answer(&infer)["outputs"][0]["data"][0],
        answer(&post)["predictions"][0]
    );
    let mut group = c.benchmark_group("one_row");
    // lambda_http's event-to-request conversion alone: its cost grows with the body, and
    // the protocol's body for one row is about three times POST /predict's.
    for (name, json) in [("event_post_predict", &post), ("event_oip_infer", &infer)] {
        group.bench_function(name, |b| {
            b.iter(|| lambda_http::request::from_str(json).unwrap())
        });
    }
    for (name, json) in [("post_predict", &post), ("oip_infer", &infer)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let request: Request = lambda_http::request::from_str(json).unwrap();
                let response = runtime.block_on(app.handle(request));
                assert_eq!(response.status(), 200);
                response
            })
        });
    }
    group.finish();
}

/// `file`'s event with `query` as its query string, as API Gateway sends it.
fn with_query(file: &str, query: &str) -> String {
    let mut event: serde_json::Value = serde_json::from_str(&event(file)).unwrap();
    event["rawQueryString"] = query.into();
    event.to_string()
}

/// Every warm request, each explained one beside its unexplained twin (the target:
/// an explained GET within 3x of the unexplained one).
fn warm_requests(c: &mut Criterion) {
    let app = app();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let post = one_row_post();
    let explained_post = with_body("predict-post.json", |b| {
        b["instances"].as_array_mut().unwrap().truncate(1);
        b["explain"] = true.into();
    });
    let explained_infer = with_body("v2-infer.json", |b| {
        b["parameters"] = serde_json::json!({"explain": true});
        b.as_object_mut().unwrap().remove("outputs");
    });
    let mut group = c.benchmark_group("warm_request");
    for (name, json) in [
        ("get_predict", event("predict-get.json")),
        (
            "get_predict_explained",
            with_query("predict-get.json", "explain=true"),
        ),
        ("post_predict_1", post),
        ("post_predict_1_explained", explained_post),
        ("post_predict_2", event("predict-post.json")),
        ("health", event("health.json")),
        ("oip_infer_2", event("v2-infer.json")),
        ("oip_infer_2_explained", explained_infer),
        ("oip_model_metadata", event("v2-model-metadata.json")),
    ] {
        // Event JSON -> http::Request (what lambda_http does per invoke) -> handler -> body.
        group.bench_function(name, |b| {
            b.iter(|| {
                let request: Request = lambda_http::request::from_str(&json).unwrap();
                let response = runtime.block_on(app.handle(request));
                assert_eq!(response.status(), 200);
                response
            })
        });
    }
    group.finish();
}

/// The process's metrics recorder, installed at the first call: once installed it stays
/// for the process, so every group that wants it runs after those that do not.
fn recorder() -> &'static aws_adapter::emf::Emf {
    static EMF: std::sync::OnceLock<aws_adapter::emf::Emf> = std::sync::OnceLock::new();
    EMF.get_or_init(|| {
        let emf = aws_adapter::emf::Emf::install("Bench", "bench").unwrap();
        predict::telemetry::describe();
        emf
    })
}

/// Writes the EMF lines of the request just answered to /dev/null, as `serve` writes them
/// to stdout.
fn flush_metrics(null: &mut std::fs::File) {
    let mut lines = Vec::with_capacity(4096);
    recorder().flush_to(&mut lines).unwrap();
    std::io::Write::write_all(null, &lines).unwrap();
}

/// The metrics' cost on the warm path: the same requests before the recorder is installed
/// (the app's handles reach no recorder) and after, with an app built as `main` builds it
/// (after the recorder, so its handles are the recorder's) and each request's EMF lines
/// written to /dev/null as `serve` writes them to stdout. Runs after the groups without
/// the recorder: once installed, it stays for the process.
fn metrics_off_then_on(c: &mut Criterion) {
    let off = app();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let post = one_row_post();
    let get = event("predict-get.json");
    let handle = |app: &App<InMemoryAttributes>, json: &str| {
        let request: Request = lambda_http::request::from_str(json).unwrap();
        let response = runtime.block_on(app.handle(request));
        assert_eq!(response.status(), 200);
        response
    };
    let mut group = c.benchmark_group("metrics");
    let requests = [("get_predict", &get), ("post_predict", &post)];
    for (name, json) in requests {
        group.bench_function(format!("{name}/off"), |b| b.iter(|| handle(&off, json)));
    }
    recorder();
    let on = app();
    let mut null = std::fs::File::create("/dev/null").unwrap();
    for (name, json) in requests {
        group.bench_function(format!("{name}/on"), |b| {
            b.iter(|| {
                let response = handle(&on, json);
                flush_metrics(&mut null);
                response
            })
        });
    }
    group.finish();
}

/// The challenger's cost on the warm path (the target: at most the model's own
/// scoring time more): the same GET and one-row POST with and without a challenger of the
/// champion's size (its refit: the same trees' shape, the same schema), with the metrics
/// recorder installed and each request's EMF lines flushed, as deployed; beside them, the
/// challenger's own scoring of a one-row batch, what the shadow adds at the least.
fn challenger(c: &mut Criterion) {
    recorder();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let refit = || {
        Model::load(
            &testkit::models::challenger(testkit::models::challengers::REFIT),
            "bench-challenger",
        )
        .unwrap()
    };
    let without = app();
    let with = app().with_challenger(refit());
    let post = one_row_post();
    let get = event("predict-get.json");
    let mut null = std::fs::File::create("/dev/null").unwrap();
    let mut group = c.benchmark_group("challenger");
    for (name, json) in [("get_predict", &get), ("post_predict_1", &post)] {
        for (beside, app) in [("without", &without), ("with", &with)] {
            group.bench_function(format!("{name}/{beside}"), |b| {
                b.iter(|| {
                    let request: Request = lambda_http::request::from_str(json).unwrap();
                    let response = runtime.block_on(app.handle(request));
                    assert_eq!(response.status(), 200);
                    flush_metrics(&mut null);
                    response
                })
            });
        }
    }
    // The model's own time for one row, as the shadow calls it (a batch already read).
    let model = refit();
    let row = testkit::predict_support::wine_instance(0);
    let mut batch = model.schema().batch(1);
    model
        .schema()
        .read_row(row.as_object().unwrap(), &mut batch)
        .unwrap();
    group.bench_function("refit_score_1_row", |b| {
        b.iter(|| model.score(&batch, &mut ()).unwrap())
    });
    group.finish();
}

/// `json` with API Gateway's request id `id`.
fn with_request_id(json: &str, id: &str) -> String {
    let mut event: serde_json::Value = serde_json::from_str(json).unwrap();
    event["requestContext"]["requestId"] = id.into();
    event.to_string()
}

/// Capture's cost on the warm path (the targets: a captured request at most 10 µs
/// more than an uncaptured one; an uncaptured one nothing measurable): the same GET and
/// one-row POST with capture off (rate 0), at rate 0.5 with a request id the sampler
/// leaves out, and at rate 1 (the line written to /dev/null, as `serve`'s stdout); with
/// the metrics recorder installed and each request's EMF lines flushed, as deployed.
fn capture(c: &mut Criterion) {
    use aws_adapter::config::CaptureRate;
    use predict::capture::{Capture, Sampler};
    recorder();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let null = || std::fs::File::create("/dev/null").unwrap();
    let half = CaptureRate::new(0.5).unwrap();
    let off = app();
    let unsampled = app().with_capture(Capture::new(half, null()));
    let all = app().with_capture(Capture::new(CaptureRate::ALL, null()));
    let id = (0..)
        .map(|i| format!("c6af9ac6-7b61-11e6-9a41-{i:012}"))
        .find(|id| !Sampler::new(half).sampled(id))
        .unwrap();
    let post = with_request_id(&one_row_post(), &id);
    let get = with_request_id(&event("predict-get.json"), &id);
    let mut metrics = null();
    let mut group = c.benchmark_group("capture");
    for (name, json) in [("get_predict", &get), ("post_predict_1", &post)] {
        for (how, app) in [
            ("off", &off),
            ("not_sampled", &unsampled),
            ("captured", &all),
        ] {
            group.bench_function(format!("{name}/{how}"), |b| {
                b.iter(|| {
                    let request: Request = lambda_http::request::from_str(json).unwrap();
                    let response = runtime.block_on(app.handle(request));
                    assert_eq!(response.status(), 200);
                    flush_metrics(&mut metrics);
                    response
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = warm_requests, one_row_both_ways, metrics_off_then_on, challenger, capture
}
criterion_main!(benches);
