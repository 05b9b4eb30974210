//! `make dev`'s nightly run: the template's state machine on moto, the real `batch`
//! binary in two sandboxes behind a local Runtime API, and what the run printed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use testkit::moto::{repository_root, Moto};
use testkit::runtime_api::RuntimeApi;
use testkit::stack;
use testkit::state_machine;
use tokio::process::Command;

pub const BATCH_FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:batch";
/// The batch sandboxes' output (logs, metric documents), in `target/dev-logs/`.
pub const BATCH_LOG: &str = "batch.log";
/// Sandboxes of the batch function, and slices run at once (this machine has 2 cores).
const BATCH_WORKERS: usize = 2;

/// One night's settings: where its output goes, its state machine's name, and what its
/// sandboxes get beyond the stack's batch environment.
pub struct Night {
    pub log: &'static str,
    pub machine: &'static str,
    pub env: Vec<(&'static str, String)>,
    /// The scheduled event's time (the run's id), when not the sample event's own.
    pub scheduled_at: Option<&'static str>,
}

impl Night {
    /// The walkthrough's first night: the stack's settings and the challenger.
    pub fn first() -> Night {
        Night {
            log: BATCH_LOG,
            machine: "nightly",
            env: Vec::new(),
            scheduled_at: None,
        }
    }
}

/// The nightly batch, once, as on AWS: the scheduled event from `events/` goes to the real
/// `batch` binary, which plans the night and starts the template's state machine on moto;
/// moto runs it, invoking the function for each slice (two sandboxes, so two slices at
/// once) and for the finish step, through the local Runtime API.
pub async fn nightly_batch(
    moto: &Moto,
    api: &RuntimeApi,
    night: Night,
) -> Result<serde_json::Value, String> {
    println!("\nbuilding the batch function (cargo build -p batch)");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--quiet", "-p", "batch", "--bin", "batch"])
        .current_dir(repository_root())
        .status()
        .await
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !built.success() {
        return Err(format!("cargo build -p batch failed ({built})"));
    }
    let target = crate::logs::target_dir();
    let log_path = crate::logs::dir()?.join(night.log);
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("{}: {e}", crate::logs::shown(&log_path)))?;

    // The state machine as template.yaml defines it (moto applies no substitutions).
    let template = state_machine::translated_template()?;
    let definition = state_machine::definition(
        &template,
        &BTreeMap::from([("BatchFunctionArn", BATCH_FUNCTION_ARN.to_owned())]),
    )?;
    let sfn = state_machine::client(&moto.endpoint).await;
    let machine = state_machine::create(&sfn, night.machine, &definition).await?;
    println!("state machine {machine} (template.yaml's NightlyRun)");

    let mut sandboxes = Vec::new();
    for _ in 0..BATCH_WORKERS {
        let log = log.try_clone().map_err(|e| e.to_string())?;
        let sandbox = api
            .command(target.join("debug/batch"), "batch")
            .envs(moto.env())
            .envs(stack::batch_env())
            .env("STATE_MACHINE_ARN", &machine)
            .env("BATCH_WORKERS", BATCH_WORKERS.to_string())
            .env("CHALLENGER_MODEL_KEY", crate::CHALLENGER_KEY)
            .envs(night.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start the batch function: {e}"))?;
        sandboxes.push(sandbox);
    }
    let mut event = std::fs::read(repository_root().join("events/batch-scheduled.json"))
        .map_err(|e| format!("events/batch-scheduled.json: {e}"))?;
    if let Some(time) = night.scheduled_at {
        let mut json: serde_json::Value = serde_json::from_slice(&event)
            .map_err(|e| format!("events/batch-scheduled.json: {e}"))?;
        json["time"] = time.into();
        event = json.to_string().into_bytes();
    }
    let started_at = Instant::now();
    let planned = tokio::select! {
        done = api.push(event).wait() => done.map_err(|e| e.to_string())?,
        status = sandboxes[0].wait() => {
            return Err(format!(
                "the batch function exited ({}); its log: {}",
                status.map(|s| s.to_string()).unwrap_or_default(),
                crate::logs::shown(&log_path)
            ))
        }
    };
    let started = planned.response_json().map_err(|e| {
        format!(
            "planning the night failed: {e}; the log: {}",
            crate::logs::shown(&log_path)
        )
    })?;
    let execution = started["execution"].as_str().unwrap_or_default().to_owned();
    println!(
        "nightly run {} planned: {} slices, execution {execution}",
        started["run_id"].as_str().unwrap_or("?"),
        started["slices"],
    );
    let ended = state_machine::wait_for_end(&sfn, &execution, Duration::from_secs(600)).await;
    let wall = started_at.elapsed();
    for mut sandbox in sandboxes {
        let _ = sandbox.start_kill();
        let _ = sandbox.wait().await;
    }
    let ended = ended?;
    if ended.status != aws_sdk_sfn::types::ExecutionStatus::Succeeded {
        return Err(format!(
            "the nightly run's execution ended {}: {} {}; the log: {}",
            ended.status.as_str(),
            ended.error().unwrap_or_default(),
            ended.cause().unwrap_or_default(),
            crate::logs::shown(&log_path)
        ));
    }
    let summary: serde_json::Value = serde_json::from_str(ended.output().unwrap_or_default())
        .map_err(|e| format!("the execution's output is not a run summary: {e}"))?;
    println!(
        "nightly batch {}: {}, {} rows scanned, {} written to table {}, {} rejected, {} invocations, {} ms ({} ms from the scheduled event to the execution's end)",
        summary["run_id"].as_str().unwrap_or("?"),
        summary["status"].as_str().unwrap_or("?"),
        summary["rows_scanned"],
        summary["rows_written"],
        stack::PREDICTIONS_TABLE,
        summary["rows_rejected"],
        summary["invocations"],
        summary["duration_ms"],
        wall.as_millis(),
    );
    println!(
        "run summary: curl -s --aws-sigv4 aws:amz:us-east-1:s3 --user test:test {}/{}/batch-runs/latest.json",
        moto.endpoint,
        stack::MODEL_BUCKET
    );
    if night.log == BATCH_LOG {
        print_drift(&summary["drift"]);
        print_challenger(&summary["challenger"]);
        print_metric_lines(&log_path);
    }
    Ok(summary)
}

/// The run summary's comparison of the challenger with the champion, in a few lines.
fn print_challenger(challenger: &serde_json::Value) {
    if challenger.is_null() {
        return;
    }
    if let Some(error) = challenger["load_error"].as_str() {
        println!("challenger: failed to load ({error}); the run went on without it");
        return;
    }
    let number = |name: &str| {
        challenger[name]
            .as_f64()
            .map_or("n/a".into(), |v| format!("{v:.3}"))
    };
    println!(
        "challenger {} beside the champion: {} rows compared, {} challenger errors, mean |difference| {}, p99 {}, PSI of its scores against the champion's {}",
        challenger["model_version"].as_str().unwrap_or("?"),
        challenger["rows_compared"],
        challenger["challenger_errors"],
        number("mean_abs_difference"),
        number("p99_abs_difference"),
        number("psi"),
    );
    if let Some(rows) = challenger["most_different"].as_array() {
        let listed: Vec<String> = rows
            .iter()
            .take(3)
            .map(|r| {
                format!(
                    "{} ({} against {})",
                    r["id"].as_str().unwrap_or("?"),
                    r["champion"],
                    r["challenger"]
                )
            })
            .collect();
        println!("  most different: {}", listed.join(", "));
    }
}

/// The run summary's drift report, in a few lines.
fn print_drift(drift: &serde_json::Value) {
    if drift.is_null() {
        println!("drift: none reported (the model has no model card)");
        return;
    }
    let psi = |v: &serde_json::Value| v["psi"].as_f64().map_or("-".into(), |p| format!("{p:.3}"));
    let mut features: Vec<(&String, &serde_json::Value)> = drift["features"]
        .as_object()
        .map(|f| f.iter().collect())
        .unwrap_or_default();
    features.sort_by(|a, b| {
        let key = |v: &serde_json::Value| v["psi"].as_f64().unwrap_or(0.0);
        key(b.1).total_cmp(&key(a.1))
    });
    println!(
        "drift (PSI against the model card; over {} counts as drifted): largest {}, drifted: {}",
        drift["threshold"],
        drift["max_psi"]
            .as_f64()
            .map_or("-".into(), |p| format!("{p:.3}")),
        match drift["drifted"].as_array() {
            Some(d) if !d.is_empty() => d
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            _ => "none".into(),
        }
    );
    let top: Vec<String> = features
        .iter()
        .take(4)
        .map(|(n, v)| format!("{n} {}", psi(v)))
        .collect();
    println!(
        "  features, highest first: {}; score {}",
        top.join(", "),
        psi(&drift["score"])
    );
}

/// Where the metric lines (CloudWatch's embedded metric format) are, with one of them.
fn print_metric_lines(batch_log: &std::path::Path) {
    let log = std::fs::read_to_string(batch_log).unwrap_or_default();
    let lines: Vec<&str> = log.lines().filter(|l| l.starts_with("{\"_aws\"")).collect();
    println!(
        "metric lines (CloudWatch EMF: one JSON object with an \"_aws\" key per line): the batch's, \
         {} from this run, in {} with its logs; the predict functions' in theirs, named below. \
         For example:",
        lines.len(),
        crate::logs::shown(batch_log)
    );
    if let Some(line) = lines
        .iter()
        .find(|l| l.contains("MaxPsi"))
        .or(lines.first())
    {
        println!("  {line}");
    }
}
