//! Delivered objects as bytes: plain and gzipped capture lines, concatenated gzipped
//! CloudWatch Logs envelopes, and what is not a capture.

use std::io::Write;

use store::capture::{CapturedAnswer, CapturedRequest, CapturedRow, CapturedValue, Features};

use super::*;

fn request(id: &str, first_row: u32) -> CapturedRequest {
    CapturedRequest {
        capture: CAPTURE_FORMAT,
        request_id: id.into(),
        time: "2026-12-07T21:30:00.123Z".into(),
        route: "POST /predict".into(),
        model: "wine-quality".into(),
        model_version: "v1".into(),
        challenger_version: None,
        product_id: None,
        first_row,
        rows: vec![CapturedRow {
            features: Features(vec![
                ("alcohol".into(), CapturedValue::Number(9.4)),
                ("color".into(), CapturedValue::Text("red".into())),
                ("sulphates".into(), CapturedValue::Null),
            ]),
            answer: CapturedAnswer::Score { score: 5.25 },
            challenger: None,
        }],
    }
}

fn line(id: &str) -> String {
    serde_json::to_string(&request(id, 0)).unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A CloudWatch Logs subscription record as moto's Firehose writes it (one line, no
/// separator after it).
fn envelope(kind: &str, messages: &[String]) -> String {
    let events: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| serde_json::json!({"id": i.to_string(), "timestamp": 1, "message": m}))
        .collect();
    serde_json::json!({
        "messageType": kind,
        "owner": "123456789012",
        "logGroup": "/aws/lambda/predict",
        "logStream": "s",
        "subscriptionFilters": ["captures"],
        "logEvents": events,
    })
    .to_string()
}

fn read(objects: &[Vec<u8>]) -> (Captured, CaptureReader) {
    let mut reader = CaptureReader::new();
    for (i, bytes) in objects.iter().enumerate() {
        reader.read_object(&format!("object-{i}"), bytes).unwrap();
    }
    let mut captured = std::mem::take(&mut reader.captured);
    captured
        .requests
        .sort_by(|a, b| a.request_id.cmp(&b.request_id));
    (captured, reader)
}

fn ids(captured: &Captured) -> Vec<&str> {
    captured
        .requests
        .iter()
        .map(|r| r.request_id.as_str())
        .collect()
}

#[test]
fn plain_capture_lines_are_read_as_written() {
    let text = format!("{}\n{}\n", line("r-1"), line("r-2"));
    let (captured, _) = read(&[text.into_bytes()]);
    assert_eq!(captured.unreadable, 0);
    assert_eq!(
        captured.requests,
        vec![request("r-1", 0), request("r-2", 0)]
    );
}

#[test]
fn gzipped_capture_lines_are_read_the_same() {
    let text = format!("{}\n{}\n{}", line("r-1"), line("r-2"), line("r-3"));
    let (captured, _) = read(&[gzip(text.as_bytes())]);
    assert_eq!(
        (ids(&captured), captured.unreadable),
        (vec!["r-1", "r-2", "r-3"], 0)
    );
}

#[test]
fn concatenated_gzipped_envelopes_give_their_captures_and_leave_other_lines_out() {
    let emf = r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]},"Requests":1}"#.to_owned();
    let log = r#"{"level":"INFO","fields":{"message":"request","status":200}}"#.to_owned();
    let platform = "START RequestId: 1 Version: $LATEST".to_owned();
    let first = gzip(envelope("DATA_MESSAGE", &[line("r-1"), emf, log.clone()]).as_bytes());
    let control = gzip(
        envelope(
            "CONTROL_MESSAGE",
            &["CWL CONTROL MESSAGE: Checking health".into()],
        )
        .as_bytes(),
    );
    let second = gzip(envelope("DATA_MESSAGE", &[platform, line("r-2"), line("r-3")]).as_bytes());
    // Firehose concatenates the records as they came, then gzips the lot again.
    let object = gzip(&[first, control, second].concat());
    let (captured, reader) = read(&[object]);
    assert_eq!(
        (ids(&captured), captured.unreadable),
        (vec!["r-1", "r-2", "r-3"], 0)
    );
    assert_eq!(reader.other_lines(), 3, "EMF, a log line, a platform line");
}

#[test]
fn envelopes_without_gzip_and_without_separators_are_read_too() {
    let text = format!(
        "{}{}",
        envelope("DATA_MESSAGE", &[line("r-1")]),
        envelope("DATA_MESSAGE", &[line("r-2")])
    );
    let (captured, _) = read(&[text.into_bytes()]);
    assert_eq!(
        (ids(&captured), captured.unreadable),
        (vec!["r-1", "r-2"], 0)
    );
}

#[test]
fn a_garbage_line_is_counted_and_the_lines_after_it_are_read() {
    let text = format!(
        "{}\nthis is not json at all\n{{\"capture\":1,\"request_id\":\n{}\n42\n{{\"other\":true}}\n",
        line("r-1"),
        line("r-2")
    );
    let (captured, _) = read(&[gzip(text.as_bytes())]);
    assert_eq!(ids(&captured), vec!["r-1", "r-2"]);
    // The garbage line, the truncated capture, a number, an object of another kind.
    assert_eq!(captured.unreadable, 4);
}

#[test]
fn captures_in_envelopes_that_cannot_be_read_are_counted_not_other_lines() {
    let mut other_version = request("r-9", 0);
    other_version.capture = CAPTURE_FORMAT + 1;
    let truncated = line("r-8")[..60].to_owned();
    let wrong_shape = r#"{"capture":1,"request_id":7}"#.to_owned();
    let mentions = r#"{"fields":{"message":"the \"capture\" field names it"}}"#.to_owned();
    let object = envelope(
        "DATA_MESSAGE",
        &[
            serde_json::to_string(&other_version).unwrap(),
            truncated,
            wrong_shape,
            mentions,
            line("r-1"),
        ],
    );
    let (captured, reader) = read(&[gzip(object.as_bytes())]);
    assert_eq!((ids(&captured), captured.unreadable), (vec!["r-1"], 3));
    assert_eq!(reader.other_lines(), 1);
}

#[test]
fn a_request_delivered_twice_is_read_once_and_its_parts_each_once() {
    let text = format!(
        "{}\n{}\n{}\n",
        line("r-1"),
        serde_json::to_string(&request("r-1", 1)).unwrap(),
        line("r-1")
    );
    let (captured, reader) = read(&[text.clone().into_bytes(), gzip(text.as_bytes())]);
    assert_eq!(captured.requests.len(), 2);
    assert_eq!(reader.duplicates(), 4);
}

#[test]
fn a_damaged_gzip_is_one_unreadable_record_and_its_readable_start_is_kept() {
    let text = (0..200)
        .map(|i| line(&format!("r-{i:03}")))
        .collect::<Vec<_>>()
        .join("\n");
    let mut bytes = gzip(text.as_bytes());
    let cut = bytes.len() / 2;
    bytes.truncate(cut);
    let (captured, _) = read(&[bytes]);
    assert!(captured.unreadable >= 1);
    assert!(captured.requests.len() < 200);
    let empty = read(&[b"".to_vec(), b"\n\n  ".to_vec()]).0;
    assert_eq!(empty, Captured::default());
}

#[test]
fn an_object_over_the_limit_is_refused_with_its_name_as_stored_or_decompressed() {
    let text = format!("{}\n", line("r-1")).repeat(100);
    let mut reader = CaptureReader::with_limit(1000);
    let stored = reader
        .read_object("s3://b/big", text.as_bytes())
        .unwrap_err();
    assert!(
        matches!(stored.kind, store::ErrorKind::TooLarge { .. }),
        "{stored}"
    );
    assert!(
        stored.message.starts_with("s3://b/big holds at least"),
        "{stored}"
    );
    let compressed = gzip(text.as_bytes());
    assert!(compressed.len() < 1000);
    let inflated = reader.read_object("s3://b/bomb", &compressed).unwrap_err();
    assert!(
        inflated.message.contains("over the limit of 1000"),
        "{inflated}"
    );
    assert_eq!(reader.finish(), Captured::default());
}
