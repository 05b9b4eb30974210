use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use store::capture::{CapturedAnswer, CapturedRequest, CapturedValue, LabelValue};

use super::*;
use scoring::{BatchValue, Predictions};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> (Model, Vec<Map<String, Value>>) {
    let dir = repository().join("libs/scoring/tests/fixtures/typed");
    let model = Model::load(
        &std::fs::read(dir.join(format!("{name}.onnx"))).unwrap(),
        "v7",
    )
    .unwrap();
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap())
            .unwrap();
    let rows = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_object().unwrap().clone())
        .collect();
    (model, rows)
}

fn score(model: &Model, rows: &[Map<String, Value>]) -> (Batch, Scored) {
    let schema = model.schema();
    let mut batch = schema.batch(rows.len());
    for row in rows {
        schema.read_row(row, &mut batch).unwrap();
    }
    let scored = model.score(&batch, &mut ()).unwrap();
    (batch, scored)
}

/// A sink the test reads back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'));
        text.lines().map(str::to_owned).collect()
    }
}

struct Failing;

impl Write for Failing {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("the log is gone"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const REQUEST: CaptureRequest<'static> = CaptureRequest {
    request_id: "Ab1cDEfGhIJkLMn=",
    route: "POST /predict",
    model: "demo",
    product_id: None,
};

fn capture_all(sink: impl Write + Send + 'static) -> Capture {
    Capture::new(CaptureRate::ALL, sink)
}

/// Each line read back as a `CapturedRequest`, checked field by field against what the
/// model read and answered.
fn check_round_trip(model: &Model, batch: &Batch, scored: &Scored, lines: &[String]) {
    let mut next_row = 0;
    for line in lines {
        assert!(line.len() < MAX_CAPTURE_LINE);
        let read: CapturedRequest = serde_json::from_str(line).unwrap_or_else(|e| {
            panic!("{e}: {line}");
        });
        assert_eq!(read.capture, CAPTURE_FORMAT);
        assert_eq!(read.request_id, REQUEST.request_id);
        assert_eq!(read.route, "POST /predict");
        assert_eq!(read.model, "demo");
        assert_eq!(read.model_version, "v7");
        assert_eq!(read.product_id, None);
        assert_eq!(read.challenger_version, None);
        assert_eq!(
            read.time.len(),
            "2026-12-07T21:30:00.123Z".len(),
            "{}",
            read.time
        );
        assert!(read.time.ends_with('Z'));
        assert_eq!(read.first_row as usize, next_row);
        for (k, captured) in read.rows.iter().enumerate() {
            let row = next_row + k;
            let names: Vec<&str> = captured
                .features
                .0
                .iter()
                .map(|(n, _)| n.as_str())
                .collect();
            assert_eq!(
                names,
                model.schema().names(),
                "the model's features, in its order"
            );
            for (i, (_, value)) in captured.features.0.iter().enumerate() {
                let feature = &model.schema().features()[i];
                match (batch.value(row, i).unwrap(), value) {
                    (BatchValue::F32(v), CapturedValue::Number(n)) => assert_eq!(*n as f32, v),
                    (BatchValue::F32(v), CapturedValue::Null) => assert!(v.is_nan()),
                    (BatchValue::F64(v), CapturedValue::Number(n)) => assert_eq!(*n, v),
                    (BatchValue::I64(v), CapturedValue::Number(n)) => assert_eq!(*n, v as f64),
                    (BatchValue::Text(t), CapturedValue::Text(s)) => assert_eq!(s, t),
                    (BatchValue::Text(""), CapturedValue::Null) => {
                        assert!(feature.accepts_missing)
                    }
                    (read, captured) => panic!("row {row} {}: {read:?} {captured:?}", feature.name),
                }
            }
            match (&captured.answer, scored.failure(row), scored.answers()) {
                (CapturedAnswer::Error { error }, Some(failure), _) => {
                    assert_eq!(*error, failure.to_string())
                }
                (CapturedAnswer::Score { score }, None, Predictions::Scores(s)) => {
                    assert_eq!(*score as f32, s[row])
                }
                (
                    CapturedAnswer::Class {
                        label,
                        probabilities,
                    },
                    None,
                    Predictions::Classes {
                        classes,
                        labels,
                        probabilities: p,
                    },
                ) => {
                    let want = match &classes[labels[row]] {
                        scoring::Label::Int(i) => LabelValue::Int(*i),
                        scoring::Label::Text(t) => LabelValue::Text(t.to_string()),
                    };
                    assert_eq!(*label, want);
                    let n = classes.len();
                    assert_eq!(probabilities.len(), n);
                    for (c, class) in classes.iter().enumerate() {
                        assert_eq!(probabilities[&class.to_string()] as f32, p[row * n + c]);
                    }
                }
                other => panic!("row {row}: {other:?}"),
            }
        }
        next_row += read.rows.len();
    }
    assert_eq!(next_row, scored.rows(), "every row, once");
}

#[test]
fn every_line_round_trips_into_a_captured_request() {
    // Per-feature text and missing values with text labels; a matrix of numbers with
    // integer labels; a regressor with missing categories.
    for name in [
        "ct_gbc",
        "lgbm_classifier",
        "ct_regressor",
        "hgb_classifier_nan",
    ] {
        let (model, rows) = fixture(name);
        let (batch, scored) = score(&model, &rows[..20]);
        let sink = Shared::default();
        let capture = capture_all(sink.clone());
        let rows = Rows {
            model: &model,
            batch: &batch,
            scored: &scored,
            challenger: None,
        };
        let written = capture.write(&REQUEST, &rows);
        assert_eq!(
            written,
            Written {
                records: 1,
                dropped: 0
            },
            "{name}"
        );
        let lines = sink.lines();
        assert_eq!(lines.len(), 1, "{name}");
        check_round_trip(&model, &batch, &scored, &lines);
    }
}

#[test]
fn a_capture_longer_than_a_line_is_split_in_records_numbered_by_their_first_row() {
    let (model, rows) = fixture("ct_gbc");
    let (batch, scored) = score(&model, &rows[..200]);
    let sink = Shared::default();
    let capture = capture_all(sink.clone()).with_line_limit(4_000);
    let rows = Rows {
        model: &model,
        batch: &batch,
        scored: &scored,
        challenger: None,
    };
    let written = capture.write(&REQUEST, &rows);
    let lines = sink.lines();
    assert!(lines.len() > 5, "{}", lines.len());
    assert_eq!(
        written,
        Written {
            records: lines.len() as u64,
            dropped: 0
        }
    );
    for line in &lines {
        assert!(line.len() < 4_000, "{}", line.len());
    }
    check_round_trip(&model, &batch, &scored, &lines);
}

#[test]
fn a_row_too_long_for_a_line_alone_is_dropped_and_the_next_opens_a_record() {
    let (model, mut rows) = fixture("ct_regressor");
    rows.truncate(4);
    rows[1].insert("color".into(), Value::from("x".repeat(5_000)));
    let (batch, scored) = score(&model, &rows);
    let sink = Shared::default();
    let capture = capture_all(sink.clone()).with_line_limit(4_000);
    let captured = Rows {
        model: &model,
        batch: &batch,
        scored: &scored,
        challenger: None,
    };
    let written = capture.write(&REQUEST, &captured);
    assert_eq!(
        written,
        Written {
            records: 2,
            dropped: 1
        }
    );
    let read: Vec<CapturedRequest> = sink
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!((read[0].first_row, read[0].rows.len()), (0, 1));
    assert_eq!((read[1].first_row, read[1].rows.len()), (2, 2));
    // Row 3 is row 3: the numbering survives the gap.
    let want = rows[3]["age"].as_f64().unwrap() as f32;
    match read[1].rows[1].features.0[0].1 {
        CapturedValue::Number(age) => assert_eq!(age as f32, want),
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn a_sink_that_fails_is_counted_and_nothing_else() {
    let (model, rows) = fixture("ct_gbc");
    let (batch, scored) = score(&model, &rows[..3]);
    let capture = capture_all(Failing);
    let rows = Rows {
        model: &model,
        batch: &batch,
        scored: &scored,
        challenger: None,
    };
    for _ in 0..2 {
        assert_eq!(
            capture.write(&REQUEST, &rows),
            Written {
                records: 0,
                dropped: 1
            }
        );
    }
}
