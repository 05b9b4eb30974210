//! `devstack up`: the whole system on this machine, no AWS account (the README's first
//! command, `make dev`): moto, the demo data, one nightly batch run through the template's
//! state machine (moto executes it; its tasks invoke the real batch binary through a local
//! Runtime API), the predict function.
//! `devstack with-moto -- <command>`: runs a command (the test suite) with a moto server
//! on a free loopback port, named by `MOTO_ENDPOINT`, and stops it afterwards (`make test`).
//! `devstack load-wines <table>`: loads the demo wines into an existing table wherever the
//! standard AWS configuration points: a deployed stack's AttributesTable (README,
//! "Deployment"), or an emulator named by `AWS_ENDPOINT_URL`.

use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use testkit::moto::{free_port, repository_root, Moto};
use testkit::runtime_api::{Options, RuntimeApi};
use testkit::stack::{self, Clients};
use tokio::process::Command;
mod http;
mod nightly;

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
    let result = serve(&moto, batch_api).await;
    moto.stop().await;
    result
}

async fn serve(moto: &Moto, batch_api: RuntimeApi) -> Result<ExitCode, String> {
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

    nightly::nightly_batch(moto, batch_api).await?;

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

    let port = free_port().map_err(|e| e.to_string())?;
    println!(
        "starting cargo lambda watch on 127.0.0.1:{port} (the first build takes a few minutes)"
    );
    let mut watch = start_watch(moto, port, stack::predict_env())?;
    if let Err(e) = wait_ready(port, &mut watch).await {
        stop_group(&mut watch).await;
        return Err(e);
    }
    // The classifier: the same function, built once, with its own model and table.
    let classifier_port = free_port().map_err(|e| e.to_string())?;
    println!("starting the classifier's function on 127.0.0.1:{classifier_port}");
    let mut classifier = match start_watch(moto, classifier_port, stack::classifier_env()) {
        Ok(child) => child,
        Err(e) => {
            stop_group(&mut watch).await;
            return Err(e);
        }
    };
    if let Err(e) = wait_ready(classifier_port, &mut classifier).await {
        stop_group(&mut classifier).await;
        stop_group(&mut watch).await;
        return Err(e);
    }
    let base = format!("http://127.0.0.1:{port}");
    let classifier_base = format!("http://127.0.0.1:{classifier_port}");
    let post_body = demo_post_body();
    let classifier_body = classifier_post_body();
    let infer_path = format!("/v2/models/{}/infer", stack::MODEL_NAME);
    let infer_body = demo_infer_body();
    let classifier_infer_path = format!("/v2/models/{}/infer", stack::CLASSIFIER_NAME);
    let classifier_infer_body = classifier_infer_body();
    for (port, method, path, body) in [
        (port, "GET", "/predict/wine-0001", None),
        (port, "POST", "/predict", Some(post_body.as_str())),
        (port, "GET", "/predictions/wine-0001", None),
        (port, "POST", infer_path.as_str(), Some(infer_body.as_str())),
        (classifier_port, "GET", "/predict/white-0001", None),
        (
            classifier_port,
            "POST",
            "/predict",
            Some(classifier_body.as_str()),
        ),
        (
            classifier_port,
            "POST",
            classifier_infer_path.as_str(),
            Some(classifier_infer_body.as_str()),
        ),
    ] {
        let (status, answer) = http::call(port, method, path, body)
            .await
            .map_err(|e| e.to_string())?;
        println!("\n{method} 127.0.0.1:{port}{path} -> {status}\n{answer}");
    }
    println!("\nThe stack is up. The regressor (quality score of red wines):");
    println!("  curl -s {base}/health");
    println!("  curl -s {base}/predict/wine-0042");
    println!(
        "  curl -s -X POST {base}/predict -H 'content-type: application/json' -d '{post_body}'"
    );
    println!("  curl -s {base}/predict/no-such-wine      # 404");
    println!("  curl -s {base}/predictions/wine-0042     # the nightly run's stored result");
    println!("The same wine through the Open Inference Protocol (KServe v2; docs/api.md):");
    println!(
        "  curl -s -X POST {base}{infer_path} -H 'content-type: application/json' -d '{infer_body}'"
    );
    println!("  curl -s {base}/v2/models/{}", stack::MODEL_NAME);
    println!("The classifier (\"good\" or \"bad\", red and white wines, color categorical):");
    println!("  curl -s {classifier_base}/health");
    println!("  curl -s {classifier_base}/predict/red-0042");
    println!(
        "  curl -s -X POST {classifier_base}/predict -H 'content-type: application/json' -d '{classifier_body}'"
    );
    println!(
        "  curl -s -X POST {classifier_base}{classifier_infer_path} -H 'content-type: application/json' -d '{classifier_infer_body}'"
    );
    println!("Ctrl-C stops everything this command started.");

    // Ctrl-C, or a plain `kill` (SIGTERM): either way nothing this command started is left.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot watch for SIGTERM: {e}"))?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => println!("\nstopping"),
        _ = terminate.recv() => println!("\nstopping (SIGTERM)"),
        status = watch.wait() => println!("cargo lambda watch exited ({status:?})"),
        status = classifier.wait() => println!("the classifier's cargo lambda watch exited ({status:?})"),
    }
    stop_group(&mut classifier).await;
    stop_group(&mut watch).await;
    Ok(ExitCode::SUCCESS)
}

/// Stops `cargo lambda watch` and the function it runs (its own process group): an
/// interrupt first, as Ctrl-C would send, then a kill if it has not gone in 5 s.
async fn stop_group(child: &mut tokio::process::Child) {
    let Some(pid) = child.id() else { return };
    let signal = |name: &str| {
        let _ = std::process::Command::new("kill")
            .args([name, "--", &format!("-{pid}")])
            .status();
    };
    signal("-INT");
    if tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .is_err()
    {
        signal("-KILL");
        let _ = child.wait().await;
    }
}

/// Polls `/health` until the function answers (cargo lambda builds it on first start).
async fn wait_ready(port: u16, watch: &mut tokio::process::Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        if let Ok((200, _)) = http::call(port, "GET", "/health", None).await {
            return Ok(());
        }
        if let Ok(Some(status)) = watch.try_wait() {
            return Err(format!(
                "cargo lambda watch exited before the function was ready ({status})"
            ));
        }
        if Instant::now() > deadline {
            return Err("the function did not become ready within 15 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `cargo lambda watch` serving the predict function on `port` with `env`, in its own
/// process group so that stopping it stops the function too.
fn start_watch(
    moto: &Moto,
    port: u16,
    env: Vec<(&'static str, String)>,
) -> Result<tokio::process::Child, String> {
    let bin = repository_root().join(".venv/bin");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new(bin.join("cargo-lambda"))
        .args([
            "lambda",
            "watch",
            "-A",
            "127.0.0.1",
            "-P",
            &port.to_string(),
            "-p",
            "predict",
        ])
        .current_dir(repository_root())
        .env("PATH", path)
        .envs(moto.env())
        .envs(env)
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start cargo lambda watch: {e}"))
}

/// A white wine with one gap: the model imputes the missing alcohol.
fn classifier_post_body() -> String {
    r#"{"instances":[{"fixed_acidity":7,"volatile_acidity":0.27,"citric_acid":0.36,"residual_sugar":20.7,"chlorides":0.045,"free_sulfur_dioxide":45,"total_sulfur_dioxide":170,"density":1.001,"ph":3,"sulphates":0.45,"alcohol":null,"color":"white"}]}"#.to_owned()
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
