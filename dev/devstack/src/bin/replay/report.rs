//! What a replay found: read by people (the default) or as one JSON document (`--json`).

use std::collections::BTreeMap;
use std::fmt::Write;

use scoring::comparison::{AnswerValue, Disagreement};
use scoring::ComparisonReport;
use serde_json::{json, Value};

use crate::compare::VersionReplay;

/// The whole replay.
pub struct Replayed<'a> {
    pub captures: &'a str,
    pub since: &'a str,
    pub model_version: Option<&'a str>,
    pub candidate: &'a str,
    pub candidate_task: &'a str,
    /// Requests read (of every version, before `--model-version`).
    pub requests_read: u64,
    pub rows_read: u64,
    pub unreadable: u64,
    pub versions: &'a BTreeMap<String, VersionReplay>,
}

impl Replayed<'_> {
    pub fn json(&self) -> Value {
        let versions: Vec<Value> = self
            .versions
            .iter()
            .map(|(version, v)| {
                json!({
                    "model_version": version,
                    "requests": v.requests,
                    "rows": v.rows,
                    "rows_without_answer": v.rows_without_answer,
                    "comparison": v.tally.report(),
                })
            })
            .collect();
        json!({
            "captures": self.captures,
            "since": self.since,
            "model_version": self.model_version,
            "candidate": self.candidate,
            "candidate_task": self.candidate_task,
            "requests_read": self.requests_read,
            "rows_read": self.rows_read,
            "unreadable": self.unreadable,
            "versions": versions,
        })
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Replayed captures from {} since {} with the candidate {} ({}).",
            self.captures, self.since, self.candidate, self.candidate_task
        );
        let _ = writeln!(
            out,
            "Read {} requests ({} rows); {} records could not be read as captures.",
            self.requests_read, self.rows_read, self.unreadable
        );
        if let Some(version) = self.model_version {
            let _ = writeln!(out, "Only model version {version}.");
        }
        for (version, v) in self.versions {
            let r = v.tally.report();
            let _ = writeln!(
                out,
                "\nModel version {version}: {} requests, {} rows ({} answered with an error, \
                 not compared)",
                v.requests, v.rows, v.rows_without_answer
            );
            version_text(&mut out, &r);
        }
        out
    }
}

fn version_text(out: &mut String, r: &ComparisonReport) {
    let figure = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.6}"));
    let _ = writeln!(out, "  rows compared        {}", r.rows_compared);
    let _ = writeln!(out, "  candidate errors     {}", r.challenger_errors);
    for (reason, n) in &r.challenger_error_reasons {
        let _ = writeln!(out, "    {n:>6}  {reason}");
    }
    let agreement = r
        .agreement_rate
        .map_or("- (classifiers only)".to_owned(), |a| {
            format!("{:.2}%", a * 100.0)
        });
    let _ = writeln!(out, "  label agreement      {agreement}");
    let _ = writeln!(
        out,
        "  mean |difference|    {}",
        figure(r.mean_abs_difference)
    );
    let _ = writeln!(
        out,
        "  p99 |difference|     {} (within ~3%)",
        figure(r.p99_abs_difference)
    );
    let _ = writeln!(out, "  PSI                  {}", figure(r.psi));
    if r.most_different.is_empty() {
        let _ = writeln!(out, "  no row answered differently");
        return;
    }
    let _ = writeln!(
        out,
        "  most different (request id#row: answered -> candidate):"
    );
    for d in &r.most_different {
        let _ = writeln!(out, "    {}", disagreement(d));
    }
}

fn disagreement(d: &Disagreement) -> String {
    let answer = |a: &AnswerValue| match a {
        AnswerValue::Score(s) => format!("{s}"),
        AnswerValue::Label(l) => l.clone(),
    };
    let mut line = format!(
        "{}: {} -> {}",
        d.id,
        answer(&d.champion),
        answer(&d.challenger)
    );
    if let Some(diff) = d.abs_difference {
        let _ = write!(line, "  |difference| {diff:.6}");
    }
    if d.labels_agree == Some(false) {
        line.push_str("  (another label)");
    }
    line
}
