//! What running the night through the state machine costs against one invocation scoring
//! the whole table, side by side in one run: the demo's 1,599 wines on moto, the real
//! `batch` binary under a local Runtime API, alternating the two ways `--rounds` times.
//!
//! ```sh
//! cargo build -p batch && cargo run -p batch --example nightly_overhead   # [-- --rounds N]
//! ```
//!
//! - one invocation: the scheduled event to one sandbox with no state machine configured,
//!   timed from the event to its summary (how every night ran before the state machine);
//! - state machine: the scheduled event to two sandboxes configured with the template's
//!   state machine, which moto executes (plan, two slices at once, finish), timed from the
//!   event to the execution's end (polled every 100 ms).
//!
//! Needs the project's venv (`make venv`) and the debug `batch` binary (or `$BATCH_BIN`).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use testkit::batch_support::MotoStack;
use testkit::moto::{repository_root, Moto};
use testkit::runtime_api::{Options, RuntimeApi};
use testkit::state_machine;

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:batch";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nightly_overhead: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The scheduled event of night `n` (a new run id, hence a new execution, each time).
fn event(n: u32) -> Vec<u8> {
    let path = repository_root().join("events/batch-scheduled.json");
    let mut event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    event["time"] = format!("2026-11-{:02}T02:00:00Z", 1 + n % 28).into();
    serde_json::to_vec(&event).unwrap()
}

async fn run() -> Result<(), String> {
    let rounds: u32 = std::env::args()
        .skip_while(|a| a != "--rounds")
        .nth(1)
        .map(|n| n.parse().map_err(|e| format!("--rounds: {e}")))
        .transpose()?
        .unwrap_or(3);
    let bin = std::env::var_os("BATCH_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repository_root().join("target/debug/batch"));
    let api = RuntimeApi::start_with(Options {
        function_arn: FUNCTION_ARN.into(),
        timeout: Duration::from_secs(900),
    })
    .await
    .map_err(|e| e.to_string())?;
    let moto = Moto::start_executing_state_machines(&format!("http://{}", api.address())).await?;
    let stack = MotoStack::create(&moto.endpoint, 1599, 4).await;
    let sfn = state_machine::client(&moto.endpoint).await;
    let definition = state_machine::definition(
        &state_machine::translated_template()?,
        &BTreeMap::from([("BatchFunctionArn", FUNCTION_ARN.to_owned())]),
    )?;
    let machine = state_machine::create(&sfn, "nightly", &definition).await?;

    let spawn = |extra: &[(&str, String)], count: usize| {
        (0..count)
            .map(|_| {
                api.command(&bin, "batch")
                    .envs(stack.env.iter().cloned())
                    .envs(extra.iter().cloned())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .map_err(|e| format!("{}: {e}", bin.display()))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let mut one = Vec::new();
    let mut machine_runs = Vec::new();
    for round in 0..rounds {
        // One invocation, no state machine.
        let sandboxes = spawn(&[], 1)?;
        let started = Instant::now();
        let done = api
            .push(event(2 * round))
            .wait()
            .await
            .map_err(|e| e.to_string())?;
        one.push(started.elapsed());
        let summary = done.response_json()?;
        if summary["rows_written"] != 1599 {
            return Err(format!("one invocation: {summary}"));
        }
        stop(sandboxes).await;

        // Through the state machine.
        let sandboxes = spawn(
            &[
                ("STATE_MACHINE_ARN", machine.clone()),
                ("BATCH_WORKERS", "2".into()),
            ],
            2,
        )?;
        let started = Instant::now();
        let planned = api
            .push(event(2 * round + 1))
            .wait()
            .await
            .map_err(|e| e.to_string())?;
        let execution = planned.response_json()?["execution"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let ended = state_machine::wait_for_end(&sfn, &execution, Duration::from_secs(300)).await?;
        machine_runs.push(started.elapsed());
        let summary: serde_json::Value =
            serde_json::from_str(ended.output().unwrap_or_default()).map_err(|e| e.to_string())?;
        if summary["rows_written"] != 1599 {
            return Err(format!("state machine: {:?} {summary}", ended.status));
        }
        stop(sandboxes).await;
        println!(
            "round {}: one invocation {:>6.0} ms, state machine {:>6.0} ms",
            round + 1,
            one[round as usize].as_secs_f64() * 1e3,
            machine_runs[round as usize].as_secs_f64() * 1e3
        );
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e3
    };
    let (a, b) = (median(&mut one), median(&mut machine_runs));
    println!(
        "median of {rounds}: one invocation {a:.0} ms, state machine {b:.0} ms, ratio {:.2}",
        b / a
    );
    api.shutdown().await;
    moto.stop().await;
    Ok(())
}

async fn stop(sandboxes: Vec<tokio::process::Child>) {
    for mut sandbox in sandboxes {
        let _ = sandbox.start_kill();
        let _ = sandbox.wait().await;
    }
}
