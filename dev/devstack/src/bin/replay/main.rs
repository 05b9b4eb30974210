//! Replays captured traffic against a candidate model file: each captured row is scored
//! again by the candidate, through the candidate's own schema (as the function reads a
//! request), and compared with what the function answered, per captured model version,
//! with the challenger comparison's figures.
//!
//! ```sh
//! cargo run -p devstack --bin replay -- --captures s3://BUCKET/captures/ \
//!     --candidate model/challengers/wine_quality_white.onnx [--days 7 | --since RFC3339] \
//!     [--model-version V] [--json]
//! ```
//!
//! `--captures` is the capture bucket's prefix (the stack's `CaptureUri` output; the AWS
//! SDK's usual environment, `AWS_ENDPOINT_URL` included), or a directory (or one file) of
//! objects downloaded from it (`aws s3 cp --recursive`), read the same way. `--since`
//! (RFC 3339) or `--days N` (default 7) picks the requests answered since then.
//!
//! Printed: the requests and rows read, the records that could not be read as captures,
//! and per captured model version: rows compared, the candidate's errors by reason, label
//! agreement (two classifiers), mean and p99 |difference|, PSI of the candidate's answers
//! against the captured ones, and the rows that differ most (`<request id>#<row>`).
//! `--json` prints the same as one JSON document. Exit code 0 when it replayed, 1 when it
//! could not (no captures, an unreadable candidate, S3 unavailable), 2 on bad arguments.

mod compare;
mod report;
mod source;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_adapter::aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
use scoring::{Model, Task};

use source::Source;

const USAGE: &str = "usage: replay --captures <s3://bucket/prefix | directory | file> \
--candidate <model.onnx> [--since RFC3339 | --days N] [--model-version V] [--json]";

/// The week a candidate is judged on by default.
const DEFAULT_DAYS: u64 = 7;

#[derive(Debug, PartialEq)]
struct Args {
    captures: Source,
    candidate: PathBuf,
    since: String,
    model_version: Option<String>,
    json: bool,
}

fn parse_args(args: impl IntoIterator<Item = String>, now_secs: u64) -> Result<Args, String> {
    let mut args = args.into_iter();
    let (mut captures, mut candidate, mut since, mut days, mut version, mut json) =
        (None, None, None, None, None, false);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .filter(|v| !v.starts_with("--"))
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--captures" => captures = Some(Source::parse(&value()?)?),
            "--candidate" => candidate = Some(PathBuf::from(value()?)),
            "--since" => since = Some(value()?),
            "--days" => {
                let v = value()?;
                days = Some(
                    v.parse::<u64>()
                        .ok()
                        .filter(|d| *d <= 3650)
                        .ok_or_else(|| format!("--days {v}: a number of days, 0 to 3650"))?,
                )
            }
            "--model-version" => version = Some(value()?),
            "--json" => json = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let since = match (since, days) {
        (Some(_), Some(_)) => return Err("--since or --days, not both".into()),
        (Some(since), None) => {
            if source::millis(&since).is_none() {
                return Err(format!(
                    "--since {since:?}: not an RFC 3339 time (2026-12-01T00:00:00Z)"
                ));
            }
            since
        }
        (None, days) => {
            let secs = now_secs.saturating_sub(days.unwrap_or(DEFAULT_DAYS) * 86_400);
            DateTime::from_secs(secs as i64)
                .fmt(DateTimeFormat::DateTime)
                .map_err(|e| e.to_string())?
        }
    };
    Ok(Args {
        captures: captures.ok_or("--captures is required")?,
        candidate: candidate.ok_or("--candidate is required")?,
        since,
        model_version: version,
        json,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let args = match parse_args(std::env::args().skip(1), now) {
        Ok(args) => args,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("replay: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args).await {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("replay: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<String, String> {
    let path = args.candidate.display().to_string();
    let bytes = std::fs::read(&args.candidate)
        .map_err(|e| format!("cannot read the candidate {path}: {e}"))?;
    let version = args
        .candidate
        .file_stem()
        .map_or("candidate".into(), |s| s.to_string_lossy());
    let candidate = Model::load(&bytes, version)
        .map_err(|e| format!("cannot load the candidate {path}: {e}"))?;
    let captured = source::read(&args.captures, &args.since).await?;
    let requests_read = captured.requests.len() as u64;
    let rows_read = captured.requests.iter().map(|r| r.rows.len() as u64).sum();
    let mut requests = captured.requests;
    if let Some(version) = &args.model_version {
        requests.retain(|r| &r.model_version == version);
    }
    if requests.is_empty() {
        let of_version = args
            .model_version
            .as_ref()
            .map_or(String::new(), |v| format!(" of model version {v}"));
        return Err(format!(
            "no captured requests{of_version} in {} since {} ({requests_read} read, {} \
             records unreadable): is capture on (CaptureRate) and delivered yet?",
            args.captures.describe(),
            args.since,
            captured.unreadable
        ));
    }
    let versions = compare::replay(&candidate, &requests);
    let report = report::Replayed {
        captures: &args.captures.describe(),
        since: &args.since,
        model_version: args.model_version.as_deref(),
        candidate: &path,
        candidate_task: match candidate.task() {
            Task::Regression => "regression",
            Task::Classification { .. } => "classification",
        },
        requests_read,
        rows_read,
        unreadable: captured.unreadable,
        versions: &versions,
    };
    Ok(if args.json {
        format!("{}\n", report.json())
    } else {
        report.text()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse_args(list.iter().map(|s| s.to_string()), 1_765_000_000)
    }

    #[test]
    fn arguments_are_read_with_a_week_by_default() {
        let a = args(&["--captures", "s3://b/captures/", "--candidate", "m.onnx"]).unwrap();
        assert_eq!(
            a.captures,
            Source::S3 {
                bucket: "b".into(),
                prefix: "captures/".into()
            }
        );
        assert_eq!(a.since, "2025-11-29T05:46:40Z");
        let a = args(&[
            "--captures",
            "dir",
            "--candidate",
            "m.onnx",
            "--since",
            "2026-12-01T00:00:00+01:00",
            "--model-version",
            "v3",
            "--json",
        ])
        .unwrap();
        assert_eq!(a.captures, Source::Files("dir".into()));
        assert_eq!(
            (a.since.as_str(), a.model_version.as_deref(), a.json),
            ("2026-12-01T00:00:00+01:00", Some("v3"), true)
        );
        assert_eq!(
            args(&["--captures", "d", "--candidate", "m", "--days", "1"])
                .unwrap()
                .since,
            "2025-12-05T05:46:40Z"
        );
    }

    #[test]
    fn bad_arguments_are_named() {
        let cases: [(&[&str], &str); 7] = [
            (&["--candidate", "m"], "--captures is required"),
            (&["--captures", "d"], "--candidate is required"),
            (
                &["--captures", "d", "--candidate", "m", "--days", "x"],
                "--days x",
            ),
            (
                &["--captures", "d", "--candidate", "m", "--since", "monday"],
                "--since \"monday\"",
            ),
            (
                &[
                    "--captures",
                    "d",
                    "--candidate",
                    "m",
                    "--since",
                    "2026-12-01T00:00:00Z",
                    "--days",
                    "1",
                ],
                "not both",
            ),
            (
                &["--captures", "--candidate", "m"],
                "--captures needs a value",
            ),
            (
                &["--captures", "s3://", "--candidate", "m"],
                "names no bucket",
            ),
        ];
        for (list, message) in cases {
            let e = args(list).unwrap_err();
            assert!(e.contains(message), "{list:?}: {e}");
        }
    }
}
