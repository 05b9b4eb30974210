//! `devstack up`: the whole system on this machine, no AWS account (the README's first
//! command, `make dev`): moto, the demo data, one nightly batch run through the template's
//! state machine (moto executes it; its tasks invoke the real batch binary through a local
//! Runtime API), the predict function.
//! `devstack with-moto -- <command>`: runs a command (the test suite) with a moto server
//! on a free loopback port, named by `MOTO_ENDPOINT`, and stops it afterwards (`make test`).
//! `devstack load-wines <table>`: loads the demo wines into an existing table wherever the
//! standard AWS configuration points: a deployed stack's AttributesTable (README,
//! "Deployment"), or an emulator named by `AWS_ENDPOINT_URL`.

use std::process::ExitCode;
use std::time::Duration;

use testkit::moto::{free_port, repository_root, Moto};
use testkit::resources;
use testkit::runtime_api::{Options, RuntimeApi};
use testkit::stack::{self, Clients};
use tokio::process::Command;
use tokio::signal::unix::{signal, SignalKind};

use captures::Captures;
use front::Front;
use logs::Log;
use watches::{wait_ready, Watches};

mod captures;
mod front;
mod http;
mod logs;
mod nightly;
mod outcomes;
mod watches;

/// The regressor's challenger in the walkthrough: the same recipe trained on white wines,
/// so that the comparison has something to show.
const CHALLENGER_FILE: &str = "model/challengers/wine_quality_white.onnx";
const CHALLENGER_KEY: &str = "wine-quality/challenger-white.onnx";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("up") => up().await,
        Some("with-moto") => {
            let command = args
                .iter()
                .skip(1)
                .skip_while(|a| *a == "--")
                .cloned()
                .collect::<Vec<_>>();
            with_moto(&command).await
        }
        Some("load-wines") if args.len() == 2 => load_wines(&args[1]).await,
        _ => Err(
            "usage: devstack up | devstack with-moto -- <command> [args...] | devstack load-wines <table>"
                .to_owned(),
        ),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("devstack: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn with_moto(command: &[String]) -> Result<ExitCode, String> {
    let [program, args @ ..] = command else {
        return Err("with-moto needs a command to run".into());
    };
    let moto = Moto::start().await?;
    eprintln!("devstack: moto server on {}", moto.endpoint);
    let status = Command::new(program)
        .args(args)
        .env("MOTO_ENDPOINT", &moto.endpoint)
        .status()
        .await;
    moto.stop().await;
    let status = status.map_err(|e| format!("cannot run {program}: {e}"))?;
    Ok(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}

async fn load_wines(table: &str) -> Result<ExitCode, String> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let total = stack::load_wines(&dynamodb, table, |done, total| {
        if done % 200 == 0 || done == total {
            eprint!("\rloading wines into {table}: {done}/{total}");
        }
    })
    .await?;
    eprintln!("\nloaded {total} products wine-0001 .. wine-{total:04} into {table}");
    Ok(ExitCode::SUCCESS)
}

async fn up() -> Result<ExitCode, String> {
    // Ctrl-C or a plain `kill` (SIGTERM) at any point, even mid-build: everything this
    // command started is stopped (handlers set first, so neither ends the process at once).
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|e| format!("cannot watch for Ctrl-C: {e}"))?;
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|e| format!("cannot watch for SIGTERM: {e}"))?;
    // The batch function's Runtime API first: moto's state machines invoke it there.
    let batch_api = RuntimeApi::start_with(Options {
        function_arn: nightly::BATCH_FUNCTION_ARN.into(),
        timeout: Duration::from_secs(900),
    })
    .await
    .map_err(|e| format!("cannot start the local Runtime API: {e}"))?;
    let moto =
        Moto::start_executing_state_machines(&format!("http://{}", batch_api.address())).await?;
    println!(
        "moto server (S3, DynamoDB, Step Functions) on {}",
        moto.endpoint
    );
    let watches = Watches::default();
    let result = tokio::select! {
        result = serve(&moto, batch_api, &watches) => result,
        _ = interrupt.recv() => {
            println!("\nstopping");
            Ok(ExitCode::SUCCESS)
        }
        _ = terminate.recv() => {
            println!("\nstopping (SIGTERM)");
            Ok(ExitCode::SUCCESS)
        }
    };
    watches.stop().await;
    moto.stop().await;
    result
}

async fn serve(moto: &Moto, batch_api: RuntimeApi, watches: &Watches) -> Result<ExitCode, String> {
    let clients = Clients::for_endpoint(&moto.endpoint).await;
    let version = stack::create_demo_stack(&clients, |done, total| {
        if done % 200 == 0 || done == total {
            print!(
                "\rloading wines into {}: {done}/{total}",
                stack::ATTRIBUTES_TABLE
            );
            let _ = std::io::Write::flush(&mut std::io::stdout());
        }
        if done == total {
            println!();
        }
    })
    .await?;
    println!(
        "model s3://{}/{} version {version}",
        stack::MODEL_BUCKET,
        stack::MODEL_KEY
    );
    println!("products: wine-0001 .. wine-1599 (row n of model/data/winequality-red.csv is wine-{{n:04}})");
    let challenger_path = repository_root().join(CHALLENGER_FILE);
    let challenger = std::fs::read(&challenger_path)
        .map_err(|e| format!("{}: {e}", challenger_path.display()))?;
    let challenger_version =
        resources::put_object(&clients.s3, stack::MODEL_BUCKET, CHALLENGER_KEY, challenger).await?;
    println!(
        "challenger s3://{}/{CHALLENGER_KEY} version {challenger_version} ({CHALLENGER_FILE}: \
         the same recipe trained on white wines), scored beside the regressor",
        stack::MODEL_BUCKET
    );

    nightly::nightly_batch(moto, &batch_api, nightly::Night::first()).await?;

    let classifier_version = stack::create_classifier_stack(&clients, |done, total| {
        if done % 500 == 0 || done == total {
            print!(
                "\rloading red and white wines into {}: {done}/{total}",
                stack::COLORED_TABLE
            );
            let _ = std::io::Write::flush(&mut std::io::stdout());
        }
        if done == total {
            println!();
        }
    })
    .await?;
    println!(
        "classifier s3://{}/{} version {classifier_version}",
        stack::MODEL_BUCKET,
        stack::CLASSIFIER_KEY
    );

    // Each function under `cargo lambda watch`, its output (build, logs, metric
    // documents) in a file; the terminal gets one line per request from a front.
    let captures = Captures::start(&moto.endpoint, &clients.s3).await?;
    let regressor_log =
        Log::create("regressor", "predict-regressor.log")?.with_captures(captures.sender());
    let port = free_port().map_err(|e| e.to_string())?;
    println!(
        "\nstarting the predict function (the regressor) under cargo lambda watch; the first \
         build takes a few minutes; its output: {}",
        logs::shown(&regressor_log.path)
    );
    let mut regressor_env = stack::predict_env();
    regressor_env.push(("CHALLENGER_MODEL_KEY", CHALLENGER_KEY.to_owned()));
    // Every scoring request captured (the template's default is 0, off).
    regressor_env.push(("CAPTURE_RATE", "1".to_owned()));
    watches.start(moto, port, regressor_env, &regressor_log)?;
    wait_ready(port, watches, &regressor_log).await?;
    // The classifier: the same function, built once, with its own model and table.
    let classifier_log = Log::create("classifier", "predict-classifier.log")?;
    let classifier_port = free_port().map_err(|e| e.to_string())?;
    println!(
        "starting the classifier's function; its output: {}",
        logs::shown(&classifier_log.path)
    );
    watches.start(
        moto,
        classifier_port,
        stack::classifier_env(),
        &classifier_log,
    )?;
    wait_ready(classifier_port, watches, &classifier_log).await?;
    let fronts = |e: std::io::Error| format!("cannot listen on loopback: {e}");
    let regressor = Front::start("regressor", port).await.map_err(fronts)?;
    let classifier = Front::start("classifier", classifier_port)
        .await
        .map_err(fronts)?;

    let base = format!("http://127.0.0.1:{}", regressor.port);
    let classifier_base = format!("http://127.0.0.1:{}", classifier.port);
    let post_body = demo_post_body();
    let classifier_body = classifier_post_body();
    let infer_path = format!("/v2/models/{}/infer", stack::MODEL_NAME);
    let infer_body = demo_infer_body();
    let classifier_infer_path = format!("/v2/models/{}/infer", stack::CLASSIFIER_NAME);
    let classifier_infer_body = classifier_infer_body();
    let classifier_explained_body = explained(&classifier_body);
    // The regressor's first POST /predict: its outcome goes back by request id.
    let mut captured_post = None;
    println!("\nA few requests (each prints its line, then its answer):");
    for (port, method, path, body) in [
        (regressor.port, "GET", "/predict/wine-0001", None),
        // Why this score: each attribute's contribution, which with the base value adds
        // up to it.
        (
            regressor.port,
            "GET",
            "/predict/wine-0001?explain=true",
            None,
        ),
        (regressor.port, "POST", "/predict", Some(post_body.as_str())),
        // The challenger's own answer (every request is also scored by it, unseen).
        (
            regressor.port,
            "GET",
            "/predict/wine-0001?model=challenger",
            None,
        ),
        (regressor.port, "GET", "/predictions/wine-0001", None),
        (
            regressor.port,
            "POST",
            infer_path.as_str(),
            Some(infer_body.as_str()),
        ),
        (classifier.port, "GET", "/predict/white-0001", None),
        (
            classifier.port,
            "POST",
            "/predict",
            Some(classifier_body.as_str()),
        ),
        (
            classifier.port,
            "POST",
            classifier_infer_path.as_str(),
            Some(classifier_infer_body.as_str()),
        ),
        // The same white wine explained: contributions to the margin of "good".
        (
            classifier.port,
            "POST",
            "/predict",
            Some(classifier_explained_body.as_str()),
        ),
    ] {
        let (_, answer, request_id) = http::call_with_id(port, method, path, body)
            .await
            .map_err(|e| e.to_string())?;
        println!("  {answer}");
        if port == regressor.port && method == "POST" && path == "/predict" {
            captured_post = request_id;
        }
    }
    outcomes::close_the_loop(moto, &batch_api, regressor.port, captured_post.as_deref()).await?;
    println!("\nThe stack is up:");
    println!(
        "  moto        {} (S3, DynamoDB, Step Functions)",
        moto.endpoint
    );
    println!("  regressor   {base} (quality score of red wines)");
    println!("  classifier  {classifier_base} (\"good\" or \"bad\", red and white wines)");
    println!(
        "  captures    {} (every scoring request of the regressor, through its log group, \
         subscription and Firehose stream on moto, as on AWS)",
        Captures::uri()
    );
    println!(
        "  logs        {} and {} (each function's build output, logs and metric \
         documents), {} (the nightly run's)",
        logs::shown(&regressor_log.path),
        logs::shown(&classifier_log.path),
        logs::shown(&logs::dir()?.join(nightly::BATCH_LOG)),
    );
    println!("\nThe regressor:");
    println!("  curl -s {base}/health");
    println!("  curl -s {base}/predict/wine-0042");
    println!(
        "  curl -s -X POST {base}/predict -H 'content-type: application/json' -d '{post_body}'"
    );
    println!("  curl -s '{base}/predict/wine-0042?explain=true'   # each attribute's contribution");
    println!("  curl -s {base}/predict/no-such-wine      # 404");
    println!("  curl -s {base}/predictions/wine-0042     # the nightly run's stored result (and the challenger's)");
    println!("  curl -s '{base}/predict/wine-0042?model=challenger'   # the challenger's answer");
    println!(
        "  curl -s -X POST {base}/outcomes -H 'content-type: application/json' -d '[{{\"product_id\":\"wine-0042\",\"outcome\":6,\"observed_at\":\"2026-12-07T18:00:00Z\"}}]'   # what really happened, for the nightly accuracy (table {})",
        stack::OUTCOMES_TABLE
    );
    println!("The same wine through the Open Inference Protocol (KServe v2; docs/api.md):");
    println!(
        "  curl -s -X POST {base}{infer_path} -H 'content-type: application/json' -d '{infer_body}'"
    );
    println!("  curl -s {base}/v2/models/{}", stack::MODEL_NAME);
    println!(
        "The regressor's captured traffic replayed with another model (README, \"Replaying \
         captured traffic\"):"
    );
    println!(
        "  AWS_ENDPOINT_URL={} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test \
         AWS_SECRET_ACCESS_KEY=test make replay CAPTURES={} CANDIDATE={CHALLENGER_FILE}",
        moto.endpoint,
        Captures::uri()
    );
    println!("The classifier (color categorical, gaps imputed by the model):");
    println!("  curl -s {classifier_base}/health");
    println!("  curl -s {classifier_base}/predict/red-0042");
    println!("  curl -s '{classifier_base}/predict/red-0042?explain=true'");
    println!(
        "  curl -s -X POST {classifier_base}/predict -H 'content-type: application/json' -d '{classifier_body}'"
    );
    println!(
        "  curl -s -X POST {classifier_base}{classifier_infer_path} -H 'content-type: application/json' -d '{classifier_infer_body}'"
    );
    println!(
        "Each request to these two ports prints one line here (method, path, status, time; \
         a refusal's message); the functions' warnings and errors show here too.\n\
         Ctrl-C stops everything this command started.\n"
    );
    // Until a signal (in `up`), or until a function's watch ends by itself.
    let exited = watches.wait_any().await;
    Err(exited)
}

/// A white wine with one gap: the model imputes the missing alcohol.
fn classifier_post_body() -> String {
    r#"{"instances":[{"fixed_acidity":7,"volatile_acidity":0.27,"citric_acid":0.36,"residual_sugar":20.7,"chlorides":0.045,"free_sulfur_dioxide":45,"total_sulfur_dioxide":170,"density":1.001,"ph":3,"sulphates":0.45,"alcohol":null,"color":"white"}]}"#.to_owned()
}

/// A `POST /predict` body asking for explanations too.
fn explained(post_body: &str) -> String {
    let mut body: serde_json::Value = serde_json::from_str(post_body).expect("a JSON body");
    body["explain"] = true.into();
    body.to_string()
}

/// `demo_post_body`'s wine as Open Inference Protocol tensors, one per feature.
fn demo_infer_body() -> String {
    infer_body(&demo_post_body())
}

/// A red wine without gaps (the protocol has no missing values), `color` as BYTES.
fn classifier_infer_body() -> String {
    infer_body(
        r#"{"instances":[{"fixed_acidity":7.4,"volatile_acidity":0.7,"citric_acid":0,"residual_sugar":1.9,"chlorides":0.076,"free_sulfur_dioxide":11,"total_sulfur_dioxide":34,"density":0.9978,"ph":3.51,"sulphates":0.56,"alcohol":9.4,"color":"red"}]}"#,
    )
}

/// The one instance of a `POST /predict` body as an inference request: a `[1]` tensor per
/// attribute, FP32 for numbers, BYTES for strings.
fn infer_body(post_body: &str) -> String {
    let body: serde_json::Value = serde_json::from_str(post_body).expect("a JSON body");
    let inputs: Vec<serde_json::Value> = body["instances"][0]
        .as_object()
        .expect("one instance")
        .iter()
        .map(|(name, value)| {
            let datatype = if value.is_string() { "BYTES" } else { "FP32" };
            serde_json::json!({"name": name, "shape": [1], "datatype": datatype, "data": [value]})
        })
        .collect();
    serde_json::json!({ "inputs": inputs }).to_string()
}

fn demo_post_body() -> String {
    r#"{"instances":[{"fixed_acidity":7.4,"volatile_acidity":0.7,"citric_acid":0,"residual_sugar":1.9,"chlorides":0.076,"free_sulfur_dioxide":11,"total_sulfur_dioxide":34,"density":0.9978,"ph":3.51,"sulphates":0.56,"alcohol":9.4}]}"#.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The walkthrough's explained body: the same instances, `"explain": true`.
    #[test]
    fn an_explained_body_keeps_the_instances() {
        let body: serde_json::Value =
            serde_json::from_str(&explained(&classifier_post_body())).unwrap();
        let plain: serde_json::Value = serde_json::from_str(&classifier_post_body()).unwrap();
        assert_eq!(body["explain"], true);
        assert_eq!(body["instances"], plain["instances"]);
    }
}
