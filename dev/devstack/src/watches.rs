//! The functions `make dev` runs under `cargo lambda watch`: started each in its own process
//! group, waited for until they answer, and stopped with everything they started.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use testkit::moto::{repository_root, Moto};
use tokio::process::Command;

use crate::http;
use crate::logs::{self, Log};

/// The `cargo lambda watch` processes, each in its own process group (with the function
/// and the cargo build it runs), so that stopping the group stops all of it.
#[derive(Default)]
pub struct Watches(std::sync::Mutex<Vec<(tokio::process::Child, Log)>>);

impl Watches {
    /// `cargo lambda watch` serving the predict function on `port` with `env`, its output
    /// into `log`.
    pub fn start(
        &self,
        moto: &Moto,
        port: u16,
        env: Vec<(&'static str, String)>,
        log: &Log,
    ) -> Result<(), String> {
        let bin = repository_root().join(".venv/bin");
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut child = Command::new(bin.join("cargo-lambda"))
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
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start cargo lambda watch: {e}"))?;
        if let Some(out) = child.stdout.take() {
            log.follow(out);
        }
        if let Some(err) = child.stderr.take() {
            log.follow(err);
        }
        self.0
            .lock()
            .expect("not poisoned")
            .push((child, log.clone()));
        Ok(())
    }

    /// Why the watch logging to `log` has exited, if it has.
    pub fn exited(&self, log: &Log) -> Option<String> {
        let mut watches = self.0.lock().expect("not poisoned");
        let (child, _) = watches.iter_mut().find(|(_, l)| l.path == log.path)?;
        let status = child.try_wait().ok().flatten()?;
        Some(format!(
            "cargo lambda watch exited ({status}); the last lines of {}:\n{}",
            logs::shown(&log.path),
            log.tail(20)
        ))
    }

    /// Waits until one of the watches exits by itself, and says which.
    pub async fn wait_any(&self) -> String {
        loop {
            let logs: Vec<Log> = self
                .0
                .lock()
                .expect("not poisoned")
                .iter()
                .map(|(_, l)| l.clone())
                .collect();
            if let Some(why) = logs.iter().find_map(|l| self.exited(l)) {
                return why;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Stops every watch and what it runs: an interrupt to its process group first, as
    /// Ctrl-C would send (cargo lambda then stops the function and any build, which it runs
    /// in process groups of their own), then a kill to whatever of it is left after 5 s.
    pub async fn stop(&self) {
        let watches = std::mem::take(&mut *self.0.lock().expect("not poisoned"));
        for (mut child, _) in watches {
            let Some(pid) = child.id() else { continue };
            let family = descendants(pid);
            kill("-INT", &format!("-{pid}"));
            if tokio::time::timeout(Duration::from_secs(5), child.wait())
                .await
                .is_err()
            {
                kill("-KILL", &format!("-{pid}"));
                let _ = child.wait().await;
            }
            for process in family {
                if Path::new(&format!("/proc/{process}")).exists() {
                    kill("-KILL", &process.to_string());
                }
            }
        }
    }
}

/// `kill <signal> -- <target>` (a pid, or `-pgid` for a process group), quietly: the
/// target may have gone already.
fn kill(signal: &str, target: &str) {
    let _ = std::process::Command::new("kill")
        .args([signal, "--", target])
        .stderr(Stdio::null())
        .status();
}

/// Every process below `pid`, from /proc (children's parent ids).
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let process: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (name) state ppid ...`: the name may hold spaces, so read after the `)`.
            let parent = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((process, parent))
        })
        .collect();
    let mut found = vec![pid];
    let mut at = 0;
    while at < found.len() {
        let parent = found[at];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        at += 1;
    }
    found.remove(0);
    found
}

/// Polls `/health` until the function answers (cargo lambda builds it on first start),
/// saying every 30 s what the build is at.
pub async fn wait_ready(port: u16, watches: &Watches, log: &Log) -> Result<(), String> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(900);
    let mut next_word = started + Duration::from_secs(30);
    loop {
        if let Ok((200, _)) = http::call(port, "GET", "/health", None).await {
            println!(
                "  ready on 127.0.0.1:{port} after {} s",
                started.elapsed().as_secs()
            );
            return Ok(());
        }
        if let Some(why) = watches.exited(log) {
            return Err(why);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the function did not become ready within 15 minutes; see {}",
                logs::shown(&log.path)
            ));
        }
        if Instant::now() > next_word {
            println!(
                "  still starting ({} s): {}",
                started.elapsed().as_secs(),
                log.last_line()
            );
            next_word += Duration::from_secs(30);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `Watches::stop` kills if an interrupt did not end it: the grandchild too.
    #[test]
    fn descendants_reach_grandchildren() {
        let mut shell = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let below = loop {
            let below = descendants(shell.id());
            if !below.is_empty() || Instant::now() > deadline {
                break below;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        for process in &below {
            kill("-KILL", &process.to_string());
        }
        let _ = shell.kill();
        let _ = shell.wait();
        assert_eq!(below.len(), 1, "the sleep under the shell: {below:?}");
    }
}
