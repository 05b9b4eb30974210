//! Metrics in CloudWatch's embedded metric format (EMF): JSON log lines that CloudWatch
//! Logs turns into metrics, with no API call on the request path. The functions record
//! through the `metrics` facade; `metrics_cloudwatch_embedded` is the recorder and writes
//! the EMF documents (one per dimension set) when flushed, once per invocation.

use std::io::Write;

use metrics_cloudwatch_embedded::{Builder, Collector};

/// The namespace when `METRICS_NAMESPACE` is not set.
pub const DEFAULT_NAMESPACE: &str = "ModelServing";

/// The dimension every metric carries: the function's name.
pub const FUNCTION_DIMENSION: &str = "FunctionName";

/// The installed recorder.
pub struct Emf {
    collector: &'static Collector,
}

impl Emf {
    /// Installs the process-wide recorder: namespace from `METRICS_NAMESPACE`, the
    /// `FunctionName` dimension from Lambda's `AWS_LAMBDA_FUNCTION_NAME` (`local_name` when
    /// run outside Lambda). Fails if a recorder is already installed.
    pub fn install_from_env(local_name: &str) -> Result<Emf, String> {
        let (namespace, function) = Emf::settings(|name| std::env::var(name).ok(), local_name);
        Emf::install(&namespace, &function)
    }

    /// The namespace and the function's name, from `lookup` (the environment).
    pub fn settings(lookup: impl Fn(&str) -> Option<String>, local_name: &str) -> (String, String) {
        let var = |name: &str| lookup(name).filter(|v| !v.is_empty());
        (
            var("METRICS_NAMESPACE").unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
            var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| local_name.into()),
        )
    }

    pub fn install(namespace: &str, function_name: &str) -> Result<Emf, String> {
        let collector = Builder::new()
            .cloudwatch_namespace(namespace.to_owned())
            .with_dimension(FUNCTION_DIMENSION, function_name.to_owned())
            .init()
            .map_err(|e| e.to_string())?;
        Ok(Emf { collector })
    }

    /// Writes what was recorded since the last flush as EMF lines.
    pub fn flush_to(&self, writer: impl Write) -> std::io::Result<()> {
        self.collector.flush(writer)
    }

    /// Writes what was recorded since the last flush to stdout (the function's log), in
    /// one write so that no other log line lands inside a document.
    pub fn flush(&self) {
        let mut lines = Vec::with_capacity(2048);
        let written = self
            .flush_to(&mut lines)
            .and_then(|()| std::io::stdout().lock().write_all(&lines));
        if let Err(e) = written {
            tracing::warn!(error = %e, "the metrics could not be written");
        }
    }
}
