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

/// A port nothing listens on now, on 127.0.0.1.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Moto {
    /// Starts `.venv/bin/moto_server` (or `$MOTO_SERVER`) on 127.0.0.1 and waits until it
    /// accepts connections. A missing venv is set up first ([`setup_venv_tool`], blocking:
    /// once, before anything else runs).
    pub async fn start() -> Result<Moto, String> {
        let exe = match std::env::var_os("MOTO_SERVER") {
            Some(exe) if Path::new(&exe).exists() => PathBuf::from(exe),
            Some(exe) => return Err(format!("MOTO_SERVER={} not found", exe.display())),
            None => setup_venv_tool("moto_server")?,
        };
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
        let python = setup_venv_tool("python")?;
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
/// one (`make test`), otherwise one started here from the project's venv (set up first if
/// missing, see [`venv_tool`]), shared by the process's tests and gone when the process
/// exits. Panics when moto cannot be had: a test that needs it fails, it never passes
/// without running.
pub fn endpoint() -> String {
    if let Ok(endpoint) = std::env::var("MOTO_ENDPOINT") {
        return endpoint;
    }
    static SHARED: OnceLock<Result<String, String>> = OnceLock::new();
    let exe = venv_tool("moto_server");
    match SHARED.get_or_init(|| start_for_process(&exe)) {
        Ok(endpoint) => endpoint.clone(),
        Err(e) => panic!("{e}"),
    }
}

/// [`endpoint`], as callers written when a test could skip expect it: never `None`.
pub fn test_endpoint() -> Option<String> {
    Some(endpoint())
}

/// `.venv/bin/<name>`, set up when missing: the Makefile's own `.venv/.stack` target
/// installs the pinned `requirements.txt`, once per process and one process at a time
/// (test binaries run in parallel). Panics with the reason and the command to run by hand
/// when that fails (no python3, no package registry): a test that needs the tool fails,
/// it is never skipped and counted as passed.
pub fn venv_tool(name: &str) -> PathBuf {
    setup_venv_tool(name).unwrap_or_else(|e| panic!("{e}"))
}

/// [`venv_tool`], answering the failure instead of panicking.
pub fn setup_venv_tool(name: &str) -> Result<PathBuf, String> {
    // One attempt per process: after a failure every later test fails at once, with the
    // same reason, instead of running pip again.
    static MADE: OnceLock<Result<(), String>> = OnceLock::new();
    let root = repository_root();
    ensure_tool(&root, name, || {
        MADE.get_or_init(|| make_venv(&root)).clone()
    })
}

/// The command that installs the venv's tools, as a person would type it.
pub fn venv_setup_command(root: &Path) -> String {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_owned());
    format!("make -C {} .venv/.stack", root.display())
}

/// `<root>/.venv/bin/<name>`; when it is missing, runs `setup` under a lock file that
/// every test process of this checkout shares, unless a process that held the lock before
/// has installed the tool meanwhile.
fn ensure_tool(
    root: &Path,
    name: &str,
    setup: impl FnOnce() -> Result<(), String>,
) -> Result<PathBuf, String> {
    let tool = root.join(".venv/bin").join(name);
    if tool.exists() {
        return Ok(tool);
    }
    // In target/ (ignored by git), not in .venv, which make must create itself.
    let lock_path = root.join("target/.venv-setup.lock");
    let lock = std::fs::create_dir_all(root.join("target"))
        .and_then(|()| {
            std::fs::File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
        })
        .and_then(|file| file.lock().map(|()| file))
        .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    if !tool.exists() {
        setup()?;
    }
    drop(lock);
    if tool.exists() {
        Ok(tool)
    } else {
        Err(format!(
            "{} is still missing after `{}`: is it in requirements.txt?",
            tool.display(),
            venv_setup_command(root)
        ))
    }
}

/// Runs `make -C <root> .venv/.stack`, saying so on the terminal: it takes a minute or two.
fn make_venv(root: &Path) -> Result<(), String> {
    use std::io::Write;
    let command = venv_setup_command(root);
    // Straight to stderr: the test harness captures `eprintln!` of a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "testkit: the project's venv is missing tools the tests need: running `{command}`"
    );
    let fix = format!(
        "the tests that need moto, the SAM tools or the venv's python cannot run without it: \
         fix the above (it needs make, python3 and access to PyPI), run `{command}`, then the \
         tests again"
    );
    let out = std::process::Command::new("make")
        .arg("-C")
        .arg(root)
        .arg(".venv/.stack")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{command}`: {e}\n{fix}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    Err(format!(
        "`{command}` failed ({}):\n{tail}\n{fix}",
        out.status
    ))
}

/// The endpoint of the test process's moto server ([`endpoint`]). The name is from when a
/// test could skip; it never skips: without moto the test fails.
#[macro_export]
macro_rules! moto_or_skip {
    () => {
        $crate::moto::endpoint()
    };
}

/// `.venv/bin/<name>` ([`venv_tool`]), set up when missing; it never skips: without the
/// tool the test fails.
#[macro_export]
macro_rules! venv_tool_or_skip {
    ($name:expr) => {
        $crate::moto::venv_tool($name)
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// A fresh directory standing for a checkout without a venv, removed when dropped.
    struct Checkout(PathBuf);

    impl std::ops::Deref for Checkout {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Checkout {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn checkout() -> Checkout {
        let dir = std::env::temp_dir().join(unique_name("testkit-venv"));
        std::fs::create_dir_all(&dir).unwrap();
        Checkout(dir)
    }

    /// What `make .venv/.stack` leaves behind, as far as [`ensure_tool`] looks.
    fn install(root: &Path, name: &str) {
        std::fs::create_dir_all(root.join(".venv/bin")).unwrap();
        std::fs::write(root.join(".venv/bin").join(name), "").unwrap();
    }

    #[test]
    fn an_installed_tool_is_used_without_setting_anything_up() {
        let root = checkout();
        install(&root, "moto_server");
        let tool = ensure_tool(&root, "moto_server", || panic!("no setup expected")).unwrap();
        assert_eq!(tool, root.join(".venv/bin/moto_server"));
    }

    #[test]
    fn a_missing_tool_is_set_up_then_used() {
        let root = checkout();
        let tool = ensure_tool(&root, "cfn-lint", || {
            install(&root, "cfn-lint");
            Ok(())
        })
        .unwrap();
        assert!(tool.exists());
    }

    #[test]
    fn a_failed_setup_is_the_tests_failure_with_its_reason() {
        let root = checkout();
        let err = ensure_tool(&root, "python", || Err("no python3".into())).unwrap_err();
        assert_eq!(err, "no python3");
    }

    #[test]
    fn a_setup_that_does_not_install_the_tool_says_so() {
        let root = checkout();
        let err = ensure_tool(&root, "sam", || Ok(())).unwrap_err();
        assert!(err.contains(".venv/bin/sam is still missing"), "{err}");
        assert!(err.contains("make -C"), "names the command: {err}");
    }

    #[test]
    fn concurrent_callers_set_up_once() {
        let root = checkout();
        let setups = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    ensure_tool(&root, "moto_server", || {
                        setups.fetch_add(1, Ordering::SeqCst);
                        // Long enough for the others to reach the lock meanwhile.
                        std::thread::sleep(Duration::from_millis(200));
                        install(&root, "moto_server");
                        Ok(())
                    })
                    .unwrap();
                });
            }
        });
        assert_eq!(setups.load(Ordering::SeqCst), 1);
    }

    /// The real command, in a directory without the Makefile: it fails, and the failure
    /// names the command to run by hand.
    #[test]
    fn make_failing_is_reported_with_the_command() {
        let root = checkout();
        let err = make_venv(&root).unwrap_err();
        assert!(err.contains(&venv_setup_command(&root)), "{err}");
        assert!(err.contains("then the tests again"), "{err}");
    }
}
