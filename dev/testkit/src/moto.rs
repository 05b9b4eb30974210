//! moto server, the local stand-in for S3, DynamoDB and Step Functions: started from the
//! project's venv on a free loopback port, stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{self, BehaviorVersion, SdkConfig};
use aws_sdk_s3::config::{Credentials, Region};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

pub const REGION: &str = "us-east-1";

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

/// The repository's root (two levels above this crate).
pub fn repository_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// `path`, if it exists; otherwise what to run to install it.
fn installed(path: PathBuf) -> Result<PathBuf, String> {
    if path.exists() {
        return Ok(path);
    }
    Err(format!(
        "{} not found: run `make venv` (or `make dev` / `make test`) first",
        path.display()
    ))
}

/// A port nothing listens on now, on 127.0.0.1.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Moto {
    /// Starts `.venv/bin/moto_server` (or `$MOTO_SERVER`) on 127.0.0.1 and waits until it
    /// accepts connections.
    pub async fn start() -> Result<Moto, String> {
        let exe = installed(
            std::env::var_os("MOTO_SERVER")
                .map(PathBuf::from)
                .unwrap_or_else(|| repository_root().join(".venv/bin/moto_server")),
        )?;
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let mut command = Command::new(&exe);
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null());
        Self::spawn(command, port, "moto_server").await
    }

    /// moto that also runs Step Functions executions (`dev/testkit/python/
    /// moto_executing.py`): their Lambda tasks call the Invoke API at `lambda_endpoint`
    /// (e.g. a local [`RuntimeApi`](crate::runtime_api::RuntimeApi)'s `http://` address).
    pub async fn start_executing_state_machines(lambda_endpoint: &str) -> Result<Moto, String> {
        let python = installed(repository_root().join(".venv/bin/python"))?;
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let mut command = Command::new(&python);
        command
            .arg(repository_root().join("dev/testkit/python/moto_executing.py"))
            .arg(port.to_string())
            .env("AWS_ENDPOINT_URL_LAMBDA", lambda_endpoint)
            // Its stdin is held open by the child handle; closed (EOF) when it is dropped.
            .stdin(Stdio::piped());
        Self::spawn(command, port, "moto (executing state machines)").await
    }

    async fn spawn(mut command: Command, port: u16, what: &str) -> Result<Moto, String> {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {what}: {e}"))?;
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!("{what} exited at start ({status})"));
            }
            if Instant::now() > deadline {
                return Err(format!("{what} did not start listening within 60 s"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(moto)
    }

    /// Stops moto and waits for it, so no process is left behind.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// The environment that points AWS SDKs (and the functions) at this moto.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        aws_env(&self.endpoint)
    }
}

/// The moto server for this test process: `MOTO_ENDPOINT` when the test command started
/// one (`make test`), otherwise one started here from the project's venv, shared by the
/// process's tests and gone when the process exits. `None` when there is no venv: the
/// test should skip (see [`moto_or_skip!`](crate::moto_or_skip)).
pub fn test_endpoint() -> Option<String> {
    if let Ok(endpoint) = std::env::var("MOTO_ENDPOINT") {
        return Some(endpoint);
    }
    static SHARED: OnceLock<Result<String, String>> = OnceLock::new();
    let exe = venv_tool("moto_server")?;
    match SHARED.get_or_init(|| start_for_process(&exe)) {
        Ok(endpoint) => Some(endpoint.clone()),
        Err(e) => panic!("{e}"),
    }
}

/// `.venv/bin/<name>`, if the project's venv has it. When it does not, says that the
/// calling test is skipped and why, and returns `None`; under `CI=true` a skip would let
/// CI pass without the test, so it fails instead.
pub fn venv_tool(name: &str) -> Option<PathBuf> {
    let path = repository_root().join(".venv/bin").join(name);
    if path.exists() {
        return Some(path);
    }
    let reason = format!(
        "{} not found: run `make test` (or `make venv`) once to install the project's tools",
        path.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{reason} (CI=true: a skipped test is a failure)");
    }
    let test = std::thread::current().name().unwrap_or("test").to_owned();
    eprintln!("SKIPPED {test}: {reason}");
    None
}

/// The endpoint of the test process's moto server, or return from the calling test (which
/// [`venv_tool`] has reported as skipped).
#[macro_export]
macro_rules! moto_or_skip {
    () => {
        match $crate::moto::test_endpoint() {
            Some(endpoint) => endpoint,
            None => return,
        }
    };
}

/// `.venv/bin/<name>`, or return from the calling test (reported as skipped).
#[macro_export]
macro_rules! venv_tool_or_skip {
    ($name:expr) => {
        match $crate::moto::venv_tool($name) {
            Some(path) => path,
            None => return,
        }
    };
}

/// Starts moto for the rest of this process's life: a shell runs it and kills it when its
/// stdin, held open here and never written, reaches end of file, which happens when this
/// process exits however it exits.
fn start_for_process(exe: &Path) -> Result<String, String> {
    let port = free_port().map_err(|e| format!("no free port: {e}"))?;
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(
            r#""$0" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 & m=$!; cat >/dev/null; kill $m; wait $m"#,
        )
        .arg(exe)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("moto_server exited at start ({status})"));
        }
        if Instant::now() > deadline {
            return Err("moto_server did not start listening within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Kept open (and the child unreaped) until the process ends.
    Box::leak(Box::new(child));
    Ok(format!("http://127.0.0.1:{port}"))
}

/// `prefix-<pid>-<n>`: a resource name unique within the moto server's life, however many
/// test processes share it.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// Environment for an SDK talking to a local emulator at `endpoint`.
pub fn aws_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ]
}

/// SDK configuration for an emulator at `endpoint`, built explicitly rather than from the
/// process environment (tests run in parallel in one process).
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("test", "test", None, None, "devstack"))
        .load()
        .await
}
