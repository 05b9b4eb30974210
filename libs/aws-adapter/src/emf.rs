//! Metrics in CloudWatch's embedded metric format (EMF): JSON log lines that CloudWatch
//! Logs turns into metrics, with no API call on the request path. The functions record
//! through the `metrics` facade; [`Emf`] is the recorder, and writes what was recorded
//! since the last flush (one document per dimension set) when flushed, once per
//! invocation.
//!
//! Written by hand rather than with a general EMF crate: a warm request's flush is on the
//! hot path, and a document's fixed parts (namespace, dimension names and values, JSON
//! quoting) are known when its first metric registers, so they are written then, once. A
//! flush only reads the counters and histograms, writes numbers, and allocates nothing.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Label, Metadata, Recorder, SharedString,
    Unit,
};

/// The namespace when `METRICS_NAMESPACE` is not set.
pub const DEFAULT_NAMESPACE: &str = "ModelServing";

/// The dimension every metric carries: the function's name.
pub const FUNCTION_DIMENSION: &str = "FunctionName";

/// Values of one histogram in one document, at most (EMF's limit per metric).
const MAX_HISTOGRAM_VALUES: usize = 100;

/// Dimensions of one document, at most (EMF's limit).
const MAX_DIMENSIONS: usize = 30;

/// The installed recorder.
pub struct Emf {
    registry: &'static Registry,
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
        let registry: &'static Registry =
            Box::leak(Box::new(Registry::new(namespace, function_name)));
        metrics::set_global_recorder(Handle(registry)).map_err(|e| e.to_string())?;
        Ok(Emf { registry })
    }

    /// Writes what was recorded since the last flush as EMF lines.
    pub fn flush_to(&self, mut writer: impl Write) -> std::io::Result<()> {
        let mut state = self
            .registry
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let State {
            groups,
            lines,
            values,
            ..
        } = &mut *state;
        lines.clear();
        write_documents(groups, timestamp(), lines, values);
        writer.write_all(lines)
    }

    /// Writes what was recorded since the last flush to stdout (the function's log), in
    /// one write so that no other log line lands inside a document.
    pub fn flush(&self) {
        let written = self.flush_to(std::io::stdout().lock());
        if let Err(e) = written {
            tracing::warn!(error = %e, "the metrics could not be written");
        }
    }
}

fn timestamp() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Every metric registered, by dimension set.
struct Registry {
    namespace: String,
    function: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    groups: Vec<Group>,
    /// The group of each label set.
    by_labels: HashMap<Vec<Label>, usize>,
    /// Described units, by metric name, for metrics registered later.
    units: HashMap<String, &'static str>,
    /// The lines of a flush, and a document's values part, kept from one flush to the
    /// next (no allocation once they have grown).
    lines: Vec<u8>,
    values: Vec<u8>,
}

/// One dimension set's metrics and its document's fixed parts.
struct Group {
    /// `{"Namespace":"…","Dimensions":[["FunctionName",…]],"Metrics":[`
    head: String,
    /// `"FunctionName":"…",…` (the dimensions' values).
    dimensions: String,
    metrics: Vec<Metric>,
}

struct Metric {
    name: String,
    /// `"Name"` quoted for JSON.
    quoted: String,
    unit: Option<&'static str>,
    value: Value,
}

enum Value {
    Counter(Arc<AtomicU64>),
    Gauge(Arc<AtomicU64>),
    Histogram(Arc<Values>),
}

/// A histogram's values since the last flush.
#[derive(Default)]
struct Values(Mutex<Vec<f64>>);

impl HistogramFn for Values {
    fn record(&self, value: f64) {
        // JSON has no NaN or infinity; past EMF's limit a value is dropped.
        if !value.is_finite() {
            return;
        }
        let mut values = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if values.len() < MAX_HISTOGRAM_VALUES {
            values.push(value);
        }
    }
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

impl Registry {
    fn new(namespace: &str, function: &str) -> Registry {
        Registry {
            namespace: namespace.to_owned(),
            function: function.to_owned(),
            state: Mutex::new(State::default()),
        }
    }

    /// The handle of `key`'s metric, registered on first use as `make` makes it.
    fn register<T>(
        &self,
        key: &Key,
        make: impl FnOnce() -> Value,
        handle: impl Fn(&Value) -> Option<T>,
        noop: impl FnOnce() -> T,
    ) -> T {
        let labels: Vec<Label> = key.labels().cloned().collect();
        if labels.len() + 1 > MAX_DIMENSIONS {
            tracing::error!(metric = %key, "a metric with more than 30 dimensions is not recorded");
            return noop();
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let group = match state.by_labels.get(&labels) {
            Some(&group) => group,
            None => {
                let group = state.groups.len();
                state.groups.push(self.group(&labels));
                state.by_labels.insert(labels, group);
                group
            }
        };
        let name = key.name();
        let unit = state.units.get(name).copied();
        let metrics = &mut state.groups[group].metrics;
        if let Some(metric) = metrics.iter().find(|m| m.name == name) {
            return handle(&metric.value).unwrap_or_else(|| {
                tracing::error!(metric = %key, "a metric registered again as another kind is not recorded");
                noop()
            });
        }
        let value = make();
        let made = handle(&value).unwrap_or_else(noop);
        metrics.push(Metric {
            name: name.to_owned(),
            quoted: quoted(name),
            unit,
            value,
        });
        made
    }

    fn group(&self, labels: &[Label]) -> Group {
        let mut names = quoted(FUNCTION_DIMENSION);
        let mut dimensions = format!("{}:{}", names, quoted(&self.function));
        for label in labels {
            let key = quoted(label.key());
            names.push(',');
            names.push_str(&key);
            dimensions.push_str(&format!(",{key}:{}", quoted(label.value())));
        }
        Group {
            head: format!(
                r#"{{"Namespace":{},"Dimensions":[[{names}]],"Metrics":["#,
                quoted(&self.namespace)
            ),
            dimensions,
            metrics: Vec::new(),
        }
    }

    fn describe(&self, name: KeyName, unit: Option<Unit>) {
        let Some(unit) = unit.map(unit_name) else {
            return;
        };
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for group in &mut state.groups {
            for metric in group.metrics.iter_mut().filter(|m| m.name == name.as_str()) {
                metric.unit = Some(unit);
            }
        }
        state.units.insert(name.as_str().to_owned(), unit);
    }
}

/// Each group with something recorded since the last flush, as one line: its counters that
/// moved (what they added), its histograms' values, its gauges.
fn write_documents(groups: &[Group], timestamp: u64, out: &mut Vec<u8>, values: &mut Vec<u8>) {
    let mut stamp = itoa::Buffer::new();
    let stamp = stamp.format(timestamp);
    for group in groups {
        let start = out.len();
        out.extend_from_slice(br#"{"_aws":{"Timestamp":"#);
        out.extend_from_slice(stamp.as_bytes());
        out.extend_from_slice(br#","CloudWatchMetrics":["#);
        out.extend_from_slice(group.head.as_bytes());
        // The directive's metric list now; their values after the dimensions. A counter is
        // read once (and reset): what it added goes to the values part kept in `values`.
        values.clear();
        let mut any = false;
        for metric in &group.metrics {
            let len = values.len();
            values.push(b',');
            values.extend_from_slice(metric.quoted.as_bytes());
            values.push(b':');
            let written = match &metric.value {
                Value::Counter(n) => match n.swap(0, Ordering::Relaxed) {
                    0 => false,
                    n => {
                        values.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
                        true
                    }
                },
                Value::Gauge(bits) => {
                    number(values, f64::from_bits(bits.load(Ordering::Relaxed)));
                    true
                }
                Value::Histogram(recorded) => {
                    let mut recorded = recorded.0.lock().unwrap_or_else(|e| e.into_inner());
                    values.push(b'[');
                    for (i, v) in recorded.iter().enumerate() {
                        if i > 0 {
                            values.push(b',');
                        }
                        number(values, *v);
                    }
                    values.push(b']');
                    let any = !recorded.is_empty();
                    // Emptied, its room kept for the next values.
                    recorded.clear();
                    any
                }
            };
            if !written {
                values.truncate(len);
                continue;
            }
            if any {
                out.push(b',');
            }
            any = true;
            out.extend_from_slice(br#"{"Name":"#);
            out.extend_from_slice(metric.quoted.as_bytes());
            if let Some(unit) = metric.unit {
                out.extend_from_slice(br#","Unit":""#);
                out.extend_from_slice(unit.as_bytes());
                out.push(b'"');
            }
            out.push(b'}');
        }
        if !any {
            out.truncate(start);
            continue;
        }
        out.extend_from_slice(b"]}]},");
        out.extend_from_slice(group.dimensions.as_bytes());
        out.extend_from_slice(values);
        out.extend_from_slice(b"}\n");
    }
}

/// A finite number as JSON (shortest round trip); 0 for one that is not (never recorded).
fn number(out: &mut Vec<u8>, v: f64) {
    let v = if v.is_finite() { v } else { 0.0 };
    out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
}

/// The unit's name as CloudWatch has it.
fn unit_name(unit: Unit) -> &'static str {
    match unit {
        Unit::Count => "Count",
        Unit::Percent => "Percent",
        Unit::Seconds => "Seconds",
        Unit::Milliseconds => "Milliseconds",
        Unit::Microseconds => "Microseconds",
        Unit::Nanoseconds => "None",
        Unit::Tebibytes => "Terabytes",
        Unit::Gibibytes => "Gigabytes",
        Unit::Mebibytes => "Megabytes",
        Unit::Kibibytes => "Kilobytes",
        Unit::Bytes => "Bytes",
        Unit::TerabitsPerSecond => "Terabits/Second",
        Unit::GigabitsPerSecond => "Gigabits/Second",
        Unit::MegabitsPerSecond => "Megabits/Second",
        Unit::KilobitsPerSecond => "Kilobits/Second",
        Unit::BitsPerSecond => "Bits/Second",
        Unit::CountPerSecond => "Count/Second",
    }
}

/// The recorder as the `metrics` facade holds it.
struct Handle(&'static Registry);

impl Recorder for Handle {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.0.describe(key, unit)
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.0.describe(key, unit)
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.0.describe(key, unit)
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.0.register(
            key,
            || Value::Counter(Arc::default()),
            |v| match v {
                Value::Counter(n) => Some(Counter::from_arc(n.clone())),
                _ => None,
            },
            Counter::noop,
        )
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.0.register(
            key,
            || Value::Gauge(Arc::default()),
            |v| match v {
                Value::Gauge(bits) => Some(Gauge::from_arc(bits.clone())),
                _ => None,
            },
            Gauge::noop,
        )
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.0.register(
            key,
            || Value::Histogram(Arc::default()),
            |v| match v {
                Value::Histogram(values) => Some(Histogram::from_arc(values.clone())),
                _ => None,
            },
            Histogram::noop,
        )
    }
}

#[cfg(test)]
mod tests;
