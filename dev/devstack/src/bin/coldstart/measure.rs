//! One start of the bootstrap against a fresh Runtime API: its environment, init, the
//! invocations, and its memory from `/proc`.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use testkit::moto::{self, Moto};
use testkit::runtime_api::{Invocation, RuntimeApi};
use testkit::stack;
use tokio::process::{Child, Command};

use crate::workload::{Route, ScoreCheck, Workload};

const INIT_TIMEOUT: Duration = Duration::from_secs(60);
const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);

/// What Lambda gives a `provided.al2023` function, pointed at moto: the process starts
/// from an empty environment, so nothing of the caller's shell (AWS_PROFILE, HOME, ...)
/// changes what aws-config does.
pub fn function_env(moto: &Moto, bootstrap: &Path) -> Vec<(String, String)> {
    let task_root = bootstrap.parent().unwrap_or(Path::new("/"));
    let mut env: Vec<(String, String)> = moto
        .env()
        .into_iter()
        .chain(stack::predict_env())
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    for (k, v) in [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("LANG", "en_US.UTF-8"),
        ("TZ", ":UTC"),
        ("LAMBDA_TASK_ROOT", &task_root.display().to_string()),
        ("AWS_DEFAULT_REGION", moto::REGION),
        ("AWS_LAMBDA_FUNCTION_NAME", "predict"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/predict"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "coldstart"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "warn"),
    ] {
        env.push((k.to_owned(), v.to_owned()));
    }
    env
}

pub struct ColdStart {
    pub init: Duration,
    pub first_invoke: Duration,
    pub rss_after_init_kib: Option<u64>,
    /// `VmHWM` at the first `/next` poll, before any invoke: init's own peak.
    pub peak_rss_init_kib: Option<u64>,
    /// CPU time (user + system) spent by init, from `/proc/PID/stat`: unlike the wall
    /// clock, not stretched by other processes on a busy machine. 10 ms resolution.
    pub init_cpu: Option<Duration>,
    pub peak_rss_kib: Option<u64>,
    /// (route, latency) of each warm invocation; empty but on the last run.
    pub warm: Vec<(Route, Duration)>,
    pub log_lines: usize,
    /// Whether the run had a challenger (set by the caller).
    pub challenger: bool,
    /// The champion's model download and build, as its cold-start metrics say
    /// (`InitModelFetch` + `InitModelBuild`), if it wrote them.
    pub model_load: Option<Duration>,
}

/// One start of the bootstrap: spawn, init, first invoke, maybe the warm invokes, stop.
/// Without a `workload` (the floor bootstrap, which answers nothing worth checking), the
/// start ends at init.
pub async fn cold_start(
    bootstrap: &Path,
    env: &[(String, String)],
    workload: Option<&Workload>,
    warm: bool,
    log: &Path,
) -> Result<ColdStart, String> {
    let api = RuntimeApi::start()
        .await
        .map_err(|e| format!("cannot start the Runtime API: {e}"))?;
    let log_file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let log_file2 = log_file.try_clone().map_err(|e| e.to_string())?;
    let mut command = Command::new(bootstrap);
    command
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_file2)
        .kill_on_drop(true);
    let spawned = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bootstrap.display()))?;
    let pid = child.id();

    let result = drive(&api, &mut child, spawned, pid, workload, warm).await;

    // Read before the kill: a dead process has no memory to report.
    let peak_rss_kib = pid.and_then(|pid| proc_status_kib(pid, "VmHWM"));
    let protocol_errors = api.protocol_errors();
    let _ = child.start_kill();
    let _ = child.wait().await;
    api.shutdown().await;

    let log_text = std::fs::read_to_string(log).unwrap_or_default();
    let log_lines = log_text.lines().count();
    let mut cold = result.map_err(|e| {
        let tail: Vec<&str> = log_text.lines().rev().take(10).collect();
        if tail.is_empty() {
            format!("{e} (the function logged nothing)")
        } else {
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("{e}\nlast lines of {}:\n{}", log.display(), tail.join("\n"))
        }
    })?;
    if !protocol_errors.is_empty() {
        return Err(format!(
            "the Runtime API saw unexpected requests: {protocol_errors:?}"
        ));
    }
    cold.peak_rss_kib = peak_rss_kib;
    cold.log_lines = log_lines;
    cold.model_load = model_load(&log_text);
    Ok(cold)
}

/// `InitModelFetch` + `InitModelBuild` (ms) from the cold start's EMF document.
fn model_load(log: &str) -> Option<Duration> {
    let document = log
        .lines()
        .filter(|l| l.contains("InitModelBuild"))
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())?;
    let value = |name: &str| match &document[name] {
        serde_json::Value::Array(values) => values.first().and_then(|v| v.as_f64()),
        v => v.as_f64(),
    };
    Some(Duration::from_secs_f64(
        (value("InitModelFetch")? + value("InitModelBuild")?) / 1e3,
    ))
}

async fn drive(
    api: &RuntimeApi,
    child: &mut Child,
    spawned: Instant,
    pid: Option<u32>,
    workload: Option<&Workload>,
    warm: bool,
) -> Result<ColdStart, String> {
    let first_poll = tokio::select! {
        polled = api.wait_for_poll(1) => {
            polled.map_err(|e| format!("the function reported an init error: {e}"))?
        }
        status = child.wait() => {
            return Err(format!(
                "the bootstrap exited during init ({}) without reporting an init error",
                status.map_or_else(|e| e.to_string(), |s| s.to_string())
            ));
        }
        _ = tokio::time::sleep(INIT_TIMEOUT) => {
            return Err(format!("no /next poll within {} s of the start", INIT_TIMEOUT.as_secs()));
        }
    };
    let init = first_poll.saturating_duration_since(spawned);
    let rss_after_init_kib = pid.and_then(|pid| proc_status_kib(pid, "VmRSS"));
    let peak_rss_init_kib = pid.and_then(|pid| proc_status_kib(pid, "VmHWM"));
    let init_cpu = pid.and_then(cpu_time);
    let Some(workload) = workload else {
        return Ok(ColdStart {
            init,
            first_invoke: Duration::ZERO,
            rss_after_init_kib,
            peak_rss_init_kib,
            init_cpu,
            peak_rss_kib: None,
            warm: Vec::new(),
            log_lines: 0,
            challenger: false,
            model_load: None,
        });
    };

    let mut scores = ScoreCheck::default();
    let (route, event) = &workload.first;
    let first = invoke(api, child, event).await?;
    scores.check(route, &first)?;

    let mut latencies = Vec::new();
    if warm {
        latencies.reserve(workload.warm.len());
        for (route, event) in &workload.warm {
            let done = invoke(api, child, event).await?;
            scores.check(route, &done)?;
            latencies.push((route.clone(), done.latency()));
        }
    }
    Ok(ColdStart {
        init,
        first_invoke: first.latency(),
        rss_after_init_kib,
        peak_rss_init_kib,
        init_cpu,
        peak_rss_kib: None,
        warm: latencies,
        log_lines: 0,
        challenger: false,
        model_load: None,
    })
}

async fn invoke(api: &RuntimeApi, child: &mut Child, event: &[u8]) -> Result<Invocation, String> {
    let pending = api.push(event.to_vec());
    let request_id = pending.request_id.clone();
    tokio::select! {
        done = pending.wait() => done.map_err(|e| e.to_string()),
        status = child.wait() => Err(format!(
            "the bootstrap exited during invocation {request_id} ({})",
            status.map_or_else(|e| e.to_string(), |s| s.to_string())
        )),
        _ = tokio::time::sleep(INVOKE_TIMEOUT) => Err(format!(
            "no answer to invocation {request_id} within {} s", INVOKE_TIMEOUT.as_secs()
        )),
    }
}

/// User + system CPU time of a live process (`utime` + `stime` of `/proc/PID/stat`, in
/// clock ticks of 10 ms, the Linux default).
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    Some(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}

/// `VmRSS`, `VmHWM`, ... of a live process, in KiB.
fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
