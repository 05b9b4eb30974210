//! A real Open Inference Protocol client against the real function: the `predict` binary,
//! run as Lambda runs it (a local Runtime API, moto for S3 and DynamoDB), behind testkit's
//! HTTP front (what API Gateway does), called by `tritonclient.http` from the project's
//! venv (tests/oip/tritonclient_check.py, pinned in requirements.txt) for the demo
//! regressor and the demo classifier, and compared with `POST /predict` on the same rows
//! (the `contributions` output with `POST /predict`'s explanations).
//! Like every venv test, it sets the venv up when missing (`make .venv/.stack`, which
//! installs tritonclient too), and fails if that cannot be done.

use std::sync::Arc;
use std::time::Duration;

use scoring::Model;
use serde_json::{json, Map, Value};
use testkit::http_front::HttpFront;
use testkit::moto::unique_name as unique;
use testkit::predict_support::{self, repository};
use testkit::resources;
use testkit::runtime_api::RuntimeApi;
use testkit::stack::Clients;
use tokio::process::Child;

/// A bucket with `model` and an empty table on moto; the function's environment.
async fn stack(endpoint: &str, model: Vec<u8>, name: &str) -> Vec<(&'static str, String)> {
    let c = Clients::for_endpoint(endpoint).await;
    let (bucket, table) = (unique("models"), unique("attributes"));
    resources::create_bucket(&c.s3, &bucket).await.unwrap();
    resources::put_object(&c.s3, &bucket, "model.onnx", model)
        .await
        .unwrap();
    resources::create_table(&c.dynamodb, &table).await.unwrap();
    let mut env = testkit::moto::aws_env(endpoint);
    env.extend([
        ("MODEL_BUCKET", bucket),
        ("MODEL_KEY", "model.onnx".into()),
        ("ATTRIBUTES_TABLE", table),
        ("PREDICTIONS_TABLE", unique("predictions")),
        ("MODEL_NAME", name.to_owned()),
        ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true".into()),
    ]);
    env
}

/// The function, started and initialised, behind an HTTP front. The child's output is
/// drained as it comes: a full pipe would block the function.
struct Served {
    front: HttpFront,
    child: Child,
    _api: Arc<RuntimeApi>,
}

async fn serve(env: Vec<(&'static str, String)>) -> Served {
    let api = Arc::new(RuntimeApi::start().await.unwrap());
    let mut child = api
        .command(env!("CARGO_BIN_EXE_predict"), "predict")
        .envs(env)
        .spawn()
        .unwrap();
    for pipe in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        tokio::spawn(async move {
            let mut pipe = pipe;
            let _ = tokio::io::copy(&mut pipe, &mut tokio::io::sink()).await;
        });
    }
    tokio::time::timeout(Duration::from_secs(60), api.wait_for_poll(1))
        .await
        .expect("init in time")
        .expect("init without error");
    let front = HttpFront::start(api.clone()).await.unwrap();
    Served {
        front,
        child,
        _api: api,
    }
}

/// The model's features of `rows` (numbers and strings), as `POST /predict` instances.
fn instances(model: &Model, rows: Vec<scoring::Row>) -> Vec<Map<String, Value>> {
    rows.iter()
        .map(|row| {
            model
                .features()
                .iter()
                .map(|f| {
                    let value = match row.get(f) {
                        Some(scoring::Value::Number(n)) => json!(n),
                        Some(scoring::Value::Text(s)) => json!(s),
                        other => panic!("feature {f}: {other:?}"),
                    };
                    (f.clone(), value)
                })
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tritonclient_speaks_to_the_function_and_agrees_with_post_predict() {
    let python = testkit::moto::venv_tool("python");
    let endpoint = testkit::moto::endpoint();

    let regressor_bytes = predict_support::demo_model_bytes();
    let regressor = Model::load(&regressor_bytes, "local").unwrap();
    let wines = predict_support::wines()
        .into_iter()
        .take(20)
        .map(|(_, row)| row)
        .collect();
    let regressor_rows = instances(&regressor, wines);

    let classifier_bytes =
        std::fs::read(repository().join("model/wine_good_classifier.onnx")).unwrap();
    let classifier = Model::load(&classifier_bytes, "local").unwrap();
    let colored = testkit::demo_data::colored_wines().unwrap();
    // Ten red and ten white wines (the protocol has no missing values: none has a gap).
    let picked: Vec<scoring::Row> = colored[..10]
        .iter()
        .chain(&colored[colored.len() - 10..])
        .map(|item| aws_adapter::dynamodb::row(item.clone()))
        .collect();
    let classifier_rows = instances(&classifier, picked);
    assert!(classifier_rows.iter().any(|r| r["color"] == "white"));
    assert!(classifier_rows.iter().any(|r| r["color"] == "red"));

    let mut regressor_fn = serve(stack(&endpoint, regressor_bytes, "wine-quality").await).await;
    let mut classifier_fn = serve(stack(&endpoint, classifier_bytes, "wine-good").await).await;
    let targets = json!([
        {"url": regressor_fn.front.socket_address().to_string(), "model": "wine-quality", "rows": regressor_rows},
        {"url": classifier_fn.front.socket_address().to_string(), "model": "wine-good", "rows": classifier_rows},
    ]);
    let script = repository().join("tests/oip/tritonclient_check.py");
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(&python)
            .arg(&script)
            .arg(targets.to_string())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the client finishes in time")
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "{} failed ({}); is tritonclient[http] installed in .venv (make test installs \
         requirements.txt)?\nstdout:\n{stdout}\nstderr:\n{stderr}",
        script.display(),
        out.status
    );
    let reports: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 2, "{stdout}");
    assert_eq!(reports[0]["outputs"], json!(["predict"]));
    assert_eq!(reports[1]["outputs"], json!(["predict", "predict_proba"]));
    // Both demo models explain: the script checked `contributions` too.
    assert_eq!(reports[0]["explained"], true, "{stdout}");
    assert_eq!(reports[1]["explained"], true, "{stdout}");
    println!("{stdout}");

    for served in [&mut regressor_fn, &mut classifier_fn] {
        served.child.start_kill().unwrap();
        served.child.wait().await.unwrap();
    }
}
