//! Where the functions' output goes under `make dev`: every line (cargo's build output, the
//! function's JSON logs, its metric documents in CloudWatch's embedded metric format) to a
//! file in `target/dev-logs/`, so that the terminal keeps the stack's state and one line per
//! request; only the function's warnings and errors, and cargo's errors, are also shown.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use testkit::moto::repository_root;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::captures::is_capture;

/// Cargo's target directory (`CARGO_TARGET_DIR`, else `target/`).
pub fn target_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository_root().join("target"));
    target.canonicalize().unwrap_or(target)
}

/// `target/dev-logs/`, created if need be. Under the target directory because `cargo
/// lambda watch` never watches it: a log file among the sources would restart the function
/// at every line it writes (where `.gitignore` is not read, outside a git checkout).
pub fn dir() -> Result<PathBuf, String> {
    let dir = target_dir().join("dev-logs");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// The path as a person at the repository's root would type it.
pub fn shown(path: &Path) -> String {
    let root = repository_root();
    let root = root.canonicalize().unwrap_or(root);
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// One process's output going to a log file, and its last line (to show progress).
#[derive(Clone)]
pub struct Log {
    pub path: PathBuf,
    name: &'static str,
    file: Arc<Mutex<std::fs::File>>,
    last: Arc<Mutex<String>>,
    /// Where its capture lines go too (the regressor's: `captures`).
    captures: Option<tokio::sync::mpsc::UnboundedSender<String>>,
}

impl Log {
    /// A new (emptied) `target/dev-logs/<file>`; `name` prefixes the lines shown on the terminal.
    pub fn create(name: &'static str, file: &str) -> Result<Log, String> {
        let path = dir()?.join(file);
        let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Log {
            path,
            name,
            file: Arc::new(Mutex::new(file)),
            last: Arc::default(),
            captures: None,
        })
    }

    /// The same log, sending its capture lines to `captures` as well.
    pub fn with_captures(self, captures: tokio::sync::mpsc::UnboundedSender<String>) -> Log {
        Log {
            captures: Some(captures),
            ..self
        }
    }

    /// Copies `output` line by line into the file until it ends.
    pub fn follow(&self, output: impl AsyncRead + Unpin + Send + 'static) {
        let log = self.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(output);
            let mut line = Vec::new();
            while lines.read_until(b'\n', &mut line).await.unwrap_or(0) > 0 {
                log.line(&line);
                line.clear();
            }
        });
    }

    fn line(&self, raw: &[u8]) {
        if let Ok(mut file) = self.file.lock() {
            let _ = file.write_all(raw);
            if !raw.ends_with(b"\n") {
                let _ = file.write_all(b"\n");
            }
        }
        let text = String::from_utf8_lossy(raw);
        let text = strip_ansi(text.trim_end());
        if text.is_empty() {
            return;
        }
        if let Some(captures) = self.captures.as_ref().filter(|_| is_capture(&text)) {
            let _ = captures.send(text.clone());
        }
        if let Some(line) = worth_showing(&text) {
            println!("[{}] {line} (more in {})", self.name, shown(&self.path));
        }
        if let Ok(mut last) = self.last.lock() {
            *last = text;
        }
    }

    /// The last line written, shortened: what the process is doing (cargo's build step).
    pub fn last_line(&self) -> String {
        let last = self.last.lock().map(|l| l.clone()).unwrap_or_default();
        if last.chars().count() > 100 {
            format!("{}...", last.chars().take(100).collect::<String>())
        } else {
            last
        }
    }

    /// The file's last `n` lines, for a failure's report.
    pub fn tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// A line a person should see at once: a JSON log line at WARN or ERROR (its message), or
/// cargo's `error` lines. Metric documents and INFO logs stay in the file.
fn worth_showing(line: &str) -> Option<String> {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
        let level = v["level"].as_str().unwrap_or_default();
        if !matches!(level, "WARN" | "ERROR") {
            return None;
        }
        let fields = v.get("fields").unwrap_or(&v);
        let message = fields["message"]
            .as_str()
            .or(v["message"].as_str())
            .unwrap_or_default();
        // lambda_runtime's word on a setting of cargo lambda's emulator, at every start of
        // the function: not the function's.
        if message.starts_with("AWS_LAMBDA_MAX_CONCURRENCY") {
            return None;
        }
        let extra: Vec<String> = fields
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| *k != "message")
            .map(|(k, v)| format!("{k}={}", v.as_str().map_or(v.to_string(), str::to_owned)))
            .collect();
        return Some(
            format!("{level} {message} {}", extra.join(" "))
                .trim_end()
                .to_owned(),
        );
    }
    (line.starts_with("error") || line.starts_with("Error")).then(|| line.to_owned())
}

/// Without terminal colour codes (`ESC [ ... letter`), which cargo writes even to a pipe
/// under some settings.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_warnings_and_errors_not_metrics_or_info() {
        let emf = r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]},"Latency":1.2}"#;
        assert_eq!(worth_showing(emf), None);
        let info = r#"{"level":"INFO","fields":{"message":"scored"}}"#;
        assert_eq!(worth_showing(info), None);
        let error = r#"{"timestamp":"t","level":"ERROR","fields":{"message":"panicked","location":"src/app.rs:3"},"target":"predict"}"#;
        assert_eq!(
            worth_showing(error).as_deref(),
            Some("ERROR panicked location=src/app.rs:3")
        );
        assert_eq!(
            worth_showing("error[E0433]: cannot find type").as_deref(),
            Some("error[E0433]: cannot find type")
        );
        assert_eq!(worth_showing("   Compiling scoring v0.1.0"), None);
        let emulator = r#"{"level":"WARN","fields":{"message":"AWS_LAMBDA_MAX_CONCURRENCY is set to '1', but the concurrency-tokio feature is not enabled; running sequentially"}}"#;
        assert_eq!(worth_showing(emulator), None);
    }

    #[test]
    fn only_capture_lines_go_to_the_captures_and_every_line_to_the_file() {
        let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
        let log = Log::create("test", "captures-test.log")
            .unwrap()
            .with_captures(sender);
        let capture = r#"{"capture":1,"request_id":"r-1","rows":[]}"#;
        for line in [
            r#"{"_aws":{"Timestamp":1},"Requests":1}"#,
            capture,
            r#"{"level":"INFO","fields":{"message":"capture on"}}"#,
            "   Compiling predict",
        ] {
            log.line(format!("{line}\n").as_bytes());
        }
        assert_eq!(received.try_recv().unwrap(), capture);
        assert!(received.try_recv().is_err());
        assert_eq!(
            std::fs::read_to_string(&log.path).unwrap().lines().count(),
            4
        );
        let _ = std::fs::remove_file(&log.path);
    }

    #[test]
    fn strips_colour_codes() {
        assert_eq!(
            strip_ansi("\u{1b}[1m\u{1b}[91merror\u{1b}[0m: x"),
            "error: x"
        );
    }
}
