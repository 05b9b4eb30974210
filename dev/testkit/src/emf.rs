//! Reading metric lines as CloudWatch would: CloudWatch's embedded metric format (EMF)
//! checked against its specification, and the documents picked by metric and dimensions.

use serde_json::Value;

/// The units CloudWatch knows.
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// One line parsed and checked as an EMF document: the `_aws` metadata, every dimension
/// a string member, every metric a number or an array of at most 100 numbers.
pub fn checked_document(line: &str, namespace: &str) -> Value {
    let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let aws = &doc["_aws"];
    assert!(aws["Timestamp"].is_u64(), "{line}");
    let directives = aws["CloudWatchMetrics"].as_array().expect(line);
    assert!(!directives.is_empty(), "{line}");
    for directive in directives {
        assert_eq!(directive["Namespace"], namespace, "{line}");
        for set in directive["Dimensions"].as_array().expect(line) {
            let set = set.as_array().expect(line);
            assert!(set.len() <= 30, "{line}");
            for key in set {
                let key = key.as_str().expect(line);
                assert!(doc[key].is_string(), "dimension {key} has no value: {line}");
            }
        }
        for metric in directive["Metrics"].as_array().expect(line) {
            let name = metric["Name"].as_str().expect(line);
            if let Some(unit) = metric.get("Unit") {
                assert!(UNITS.contains(&unit.as_str().unwrap()), "{line}");
            }
            match &doc[name] {
                Value::Number(_) => {}
                Value::Array(values) => {
                    assert!(!values.is_empty() && values.len() <= 100, "{line}");
                    assert!(values.iter().all(Value::is_number), "{line}");
                }
                other => panic!("metric {name} has value {other}: {line}"),
            }
        }
    }
    doc
}

/// The dimension names of a document (its one dimension set), sorted.
pub fn dimensions(doc: &Value) -> Vec<String> {
    let mut set: Vec<String> = doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect();
    set.sort();
    set
}

pub fn unit(doc: &Value, metric: &str) -> Option<String> {
    doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Name"] == metric)
        .and_then(|m| m["Unit"].as_str().map(str::to_owned))
}

/// The documents carrying `metric` with exactly the dimensions `dims` (plus FunctionName).
pub fn with<'a>(docs: &'a [Value], metric: &str, dims: &[&str]) -> Vec<&'a Value> {
    let mut want: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    want.push("FunctionName".into());
    want.sort();
    docs.iter()
        .filter(|d| !d[metric].is_null() && dimensions(d) == want)
        .collect()
}

/// A metric's values summed over documents (a number, or an array's items).
pub fn sum(docs: &[&Value], metric: &str) -> f64 {
    docs.iter()
        .map(|d| match &d[metric] {
            Value::Array(values) => values.iter().filter_map(Value::as_f64).sum(),
            v => v.as_f64().unwrap_or(0.0),
        })
        .sum()
}
