use super::*;

fn lines(registry: &'static Registry) -> Vec<serde_json::Value> {
    let mut state = registry.state.lock().unwrap();
    let mut out = Vec::new();
    write_documents(&state.groups, 1_700_000_000_000, &mut out, &mut Vec::new());
    state.lines.clear();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn registry() -> &'static Registry {
    Box::leak(Box::new(Registry::new("Test\"Space", "fn")))
}

#[test]
fn documents_hold_what_was_recorded_since_the_last_flush_by_dimension_set() {
    let r = registry();
    let recorder = Handle(r);
    let meta = Metadata::new("t", metrics::Level::INFO, None);
    recorder.describe_counter("Requests".into(), Some(Unit::Count), "".into());
    let requests = recorder.register_counter(
        &Key::from_parts("Requests", vec![Label::new("Route", "GET \"/x\"")]),
        &meta,
    );
    let latency = recorder.register_histogram(
        &Key::from_parts("Latency", vec![Label::new("Route", "GET \"/x\"")]),
        &meta,
    );
    let scored = recorder.register_counter(&Key::from_name("RowsScored"), &meta);
    recorder.describe_histogram("Latency".into(), Some(Unit::Milliseconds), "".into());
    requests.increment(2);
    latency.record(1.5);
    latency.record(f64::NAN);
    latency.record(0.25);

    let docs = lines(r);
    assert_eq!(docs.len(), 1, "RowsScored did not move: {docs:?}");
    let doc = &docs[0];
    let directive = &doc["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000u64);
    assert_eq!(directive["Namespace"], "Test\"Space");
    assert_eq!(
        directive["Dimensions"],
        serde_json::json!([["FunctionName", "Route"]])
    );
    assert_eq!(
        directive["Metrics"],
        serde_json::json!([
            {"Name": "Requests", "Unit": "Count"},
            {"Name": "Latency", "Unit": "Milliseconds"}
        ])
    );
    assert_eq!(doc["FunctionName"], "fn");
    assert_eq!(doc["Route"], "GET \"/x\"");
    assert_eq!(doc["Requests"], 2);
    assert_eq!(doc["Latency"], serde_json::json!([1.5, 0.25]));

    // Flushed: nothing until something moves again, and then only that.
    assert!(lines(r).is_empty());
    scored.increment(7);
    let again = recorder.register_counter(&Key::from_name("RowsScored"), &meta);
    again.increment(1);
    let docs = lines(r);
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["RowsScored"], 8);
    assert_eq!(
        docs[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["FunctionName"]])
    );
    assert!(docs[0].get("Requests").is_none());
}

#[test]
fn a_histogram_keeps_at_most_100_values_a_document_and_a_kind_is_kept() {
    let r = registry();
    let recorder = Handle(r);
    let meta = Metadata::new("t", metrics::Level::INFO, None);
    let h = recorder.register_histogram(&Key::from_name("Score"), &meta);
    for i in 0..150 {
        h.record(f64::from(i));
    }
    // The same name as a counter in the same set is refused, not mixed in.
    recorder
        .register_counter(&Key::from_name("Score"), &meta)
        .increment(1);
    let docs = lines(r);
    assert_eq!(docs[0]["Score"].as_array().unwrap().len(), 100);
    assert_eq!(docs[0]["Score"][99], 99.0);
}
