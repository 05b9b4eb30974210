use std::borrow::Cow;
use std::sync::Arc;

use super::*;
use crate::prediction::{ClassPrediction, Label};

fn class<'a>(label: &'a str, probabilities: &[(&'a str, f64)]) -> Answered<'a> {
    Answered::Class {
        label: Cow::Borrowed(label),
        probabilities: probabilities
            .iter()
            .map(|(c, p)| (Cow::Borrowed(*c), *p))
            .collect(),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn a_regressors_figures_are_the_hand_computed_ones() {
    let mut tally = AccuracyTally::default();
    // errors (prediction − observed): +1, −2, +0.5, 0
    for (p, o) in [(5.0, 4.0), (3.0, 5.0), (6.5, 6.0), (7.0, 7.0)] {
        assert!(tally.add(
            "v1",
            Source::Nightly,
            &Answered::Score(p),
            Observed::Number(o)
        ));
    }
    // A label that reads as a number is that number: error −1.
    assert!(tally.add(
        "v1",
        Source::Online,
        &Answered::Score(4.0),
        Observed::Label(" 5 ")
    ));
    let report = tally.report();
    assert_eq!((report.joined, report.unmatched), (5, 0));
    assert_eq!(report.versions.len(), 2);
    let nightly = &report.versions[0];
    assert_eq!(
        (nightly.model_version.as_str(), nightly.source),
        ("v1", Source::Nightly)
    );
    let r = nightly.regressor.as_ref().unwrap();
    assert_eq!(r.count, 4);
    assert!(close(r.mae, 3.5 / 4.0), "{r:?}");
    assert!(close(r.rmse, (5.25f64 / 4.0).sqrt()), "{r:?}");
    assert!(close(r.bias, -0.5 / 4.0), "{r:?}");
    assert!(nightly.classifier.is_none());
    let online = report.versions[1].regressor.as_ref().unwrap();
    assert_eq!((online.count, online.mae, online.bias), (1, 1.0, -1.0));
}

#[test]
fn a_classifiers_figures_and_confusion_are_the_hand_computed_ones() {
    let mut tally = AccuracyTally::default();
    let probs = [("5", 0.2), ("6", 0.7), ("7", 0.1)];
    // Right (p 0.7), wrong (observed 5, p 0.2), right with the observed label a number.
    assert!(tally.add(
        "v2",
        Source::Online,
        &class("6", &probs),
        Observed::Label("6")
    ));
    assert!(tally.add(
        "v2",
        Source::Online,
        &class("6", &probs),
        Observed::Label("5")
    ));
    assert!(tally.add(
        "v2",
        Source::Online,
        &class("6", &probs),
        Observed::Number(6.0)
    ));
    // A label the model has no class for: a miss, at the clip.
    assert!(tally.add(
        "v2",
        Source::Online,
        &class("6", &probs),
        Observed::Label("9")
    ));
    let report = tally.report();
    let c = report.versions[0].classifier.as_ref().unwrap();
    assert_eq!(c.count, 4);
    assert!(close(c.accuracy, 0.5));
    let expected = (-(0.7f64.ln()) * 2.0 - 0.2f64.ln() - LOG_LOSS_CLIP.ln()) / 4.0;
    assert!(close(c.log_loss, expected), "{} vs {expected}", c.log_loss);
    assert_eq!(c.confusion["6"]["6"], 2);
    assert_eq!(c.confusion["5"]["6"], 1);
    assert_eq!(c.confusion["9"]["6"], 1);
    assert_eq!(c.confusion.len(), 3);
}

#[test]
fn odd_outcomes_are_unmatched_with_their_reason() {
    let mut tally = AccuracyTally::default();
    let probs = [("a", 0.4), ("b", 0.6)];
    assert!(!tally.add(
        "v",
        Source::Nightly,
        &Answered::Score(1.0),
        Observed::Label("high")
    ));
    assert!(!tally.add(
        "v",
        Source::Nightly,
        &class("b", &probs),
        Observed::Number(1.5)
    ));
    assert!(!tally.add(
        "v",
        Source::Nightly,
        &Answered::Score(1.0),
        Observed::Number(f64::NAN)
    ));
    assert!(!tally.add(
        "v",
        Source::Nightly,
        &Answered::Score(f64::NAN),
        Observed::Number(1.0)
    ));
    assert!(!tally.add(
        "v",
        Source::Nightly,
        &Answered::Score(1.0),
        Observed::Label("inf")
    ));
    tally.unmatched("no prediction for the product");
    let report = tally.report();
    assert_eq!((report.joined, report.unmatched), (0, 6));
    assert!(report.versions.is_empty(), "nothing tallied: {report:?}");
    let reasons = &report.unmatched_reasons;
    assert_eq!(reasons[reasons::LABEL_FOR_REGRESSOR], 2);
    assert_eq!(reasons[reasons::NUMBER_FOR_CLASSIFIER], 1);
    assert_eq!(reasons[reasons::OBSERVED_NOT_FINITE], 1);
    assert_eq!(reasons[reasons::PREDICTION_NOT_FINITE], 1);
    assert_eq!(reasons["no prediction for the product"], 1);
}

#[test]
fn integer_and_text_labels_compare_as_text() {
    let prediction = crate::Prediction::Class(ClassPrediction {
        classes: Arc::from(vec![Label::Int(0), Label::Int(1)]),
        label: 1,
        probabilities: vec![0.25, 0.75],
    });
    let mut tally = AccuracyTally::default();
    tally.add(
        "v",
        Source::Nightly,
        &Answered::of(&prediction),
        Observed::Number(1.0),
    );
    tally.add(
        "v",
        Source::Nightly,
        &Answered::of(&prediction),
        Observed::Label("0"),
    );
    let c = tally.report().versions[0].classifier.clone().unwrap();
    assert_eq!(c.accuracy, 0.5);
    let expected = (-(0.75f64.ln()) - 0.25f64.ln()) / 2.0;
    assert!((c.log_loss - expected).abs() < 1e-7, "{}", c.log_loss);
}

#[test]
fn the_confusion_matrix_lists_at_most_50_labels() {
    let mut tally = AccuracyTally::default();
    for i in 0..80 {
        let label = format!("l{i}");
        tally.add(
            "v",
            Source::Online,
            &class(&label, &[(&label, 1.0)]),
            Observed::Label(&label),
        );
    }
    let c = tally.report().versions[0].classifier.clone().unwrap();
    assert_eq!((c.count, c.accuracy), (80, 1.0), "every pair is counted");
    assert_eq!(c.confusion.len(), MAX_LABELS + 1);
    assert_eq!(c.confusion[OTHER_LABEL][OTHER_LABEL], 30);
    let cells: u64 = c.confusion.values().flat_map(|row| row.values()).sum();
    assert_eq!(cells, 80);
}

#[test]
fn versions_and_reasons_are_bounded() {
    let mut tally = AccuracyTally::default();
    for i in 0..MAX_VERSIONS + 5 {
        tally.add(
            &format!("v{i}"),
            Source::Nightly,
            &Answered::Score(1.0),
            Observed::Number(1.0),
        );
    }
    for i in 0..MAX_REASONS + 3 {
        tally.unmatched(&format!("reason {i}"));
    }
    let report = tally.report();
    assert_eq!(report.versions.len(), MAX_VERSIONS);
    assert_eq!(report.joined, MAX_VERSIONS as u64);
    assert_eq!(report.unmatched, 5 + MAX_REASONS as u64 + 3);
    assert_eq!(report.unmatched_reasons.len(), MAX_REASONS + 1);
    assert_eq!(
        report.unmatched_reasons[OTHER_LABEL], 4,
        "the reasons past the 20th (one is the versions' own)"
    );
}

#[test]
fn merged_tallies_report_as_one_tally_of_all_pairs() {
    let pairs: Vec<(&str, Source, f64, f64)> = (0..40)
        .map(|i| {
            let version = ["v1", "v2"][i % 2];
            let source = [Source::Nightly, Source::Online][(i / 2) % 2];
            (version, source, i as f64 * 0.5, (i % 7) as f64)
        })
        .collect();
    let probs = [("x", 0.3), ("y", 0.7)];
    let mut whole = AccuracyTally::default();
    let mut parts = [
        AccuracyTally::default(),
        AccuracyTally::default(),
        AccuracyTally::default(),
    ];
    for (i, (version, source, p, o)) in pairs.iter().enumerate() {
        whole.add(version, *source, &Answered::Score(*p), Observed::Number(*o));
        parts[i % 3].add(version, *source, &Answered::Score(*p), Observed::Number(*o));
        let observed = ["x", "y", "z"][i % 3];
        whole.add("c", *source, &class("y", &probs), Observed::Label(observed));
        parts[i % 3].add("c", *source, &class("y", &probs), Observed::Label(observed));
    }
    whole.unmatched("gone");
    parts[1].unmatched("gone");
    let [mut merged, b, c] = parts;
    merged.merge(b);
    merged.merge(c);
    let (a, b) = (merged.report(), whole.report());
    assert_eq!((a.joined, a.unmatched), (b.joined, b.unmatched));
    assert_eq!(a.unmatched_reasons, b.unmatched_reasons);
    for (x, y) in a.versions.iter().zip(&b.versions) {
        assert_eq!((&x.model_version, x.source), (&y.model_version, y.source));
        match (&x.regressor, &y.regressor) {
            (Some(x), Some(y)) => {
                assert_eq!(x.count, y.count);
                assert!(close(x.mae, y.mae) && close(x.rmse, y.rmse) && close(x.bias, y.bias));
            }
            (None, None) => {}
            other => panic!("{other:?}"),
        }
        match (&x.classifier, &y.classifier) {
            (Some(x), Some(y)) => {
                assert_eq!((x.count, &x.confusion), (y.count, &y.confusion));
                assert!(close(x.accuracy, y.accuracy) && close(x.log_loss, y.log_loss));
            }
            (None, None) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(a.versions.len(), b.versions.len());
}

#[test]
fn combined_figures_equal_the_figures_of_all_pairs() {
    let mut split = AccuracyTally::default();
    let mut one = AccuracyTally::default();
    for (i, (p, o)) in [(5.0, 4.0), (3.0, 5.0), (6.5, 6.0), (7.0, 7.0), (1.0, 3.5)]
        .into_iter()
        .enumerate()
    {
        let source = if i % 2 == 0 {
            Source::Nightly
        } else {
            Source::Online
        };
        split.add("v", source, &Answered::Score(p), Observed::Number(o));
        one.add(
            "v",
            Source::Nightly,
            &Answered::Score(p),
            Observed::Number(o),
        );
    }
    let probs = [("a", 0.9), ("b", 0.1)];
    split.add(
        "w",
        Source::Online,
        &class("a", &probs),
        Observed::Label("a"),
    );
    split.add(
        "w",
        Source::Nightly,
        &class("a", &probs),
        Observed::Label("b"),
    );
    let report = split.report();
    let all = combined(&report.versions);
    let expected = one.report().versions[0].regressor.clone().unwrap();
    let r = all.regressor.unwrap();
    assert_eq!(r.count, 5);
    assert!(close(r.mae, expected.mae) && close(r.rmse, expected.rmse));
    assert!(close(r.bias, expected.bias));
    let c = all.classifier.unwrap();
    assert_eq!((c.count, c.accuracy), (2, 0.5));
    assert!(close(c.log_loss, (-(0.9f64.ln()) - 0.1f64.ln()) / 2.0));
}

#[test]
fn the_report_round_trips_through_json_with_sources_as_words() {
    let mut tally = AccuracyTally::default();
    tally.add(
        "v1",
        Source::Nightly,
        &Answered::Score(2.0),
        Observed::Number(1.0),
    );
    tally.add(
        "v1",
        Source::Online,
        &class("a", &[("a", 1.0)]),
        Observed::Label("a"),
    );
    tally.unmatched("why");
    let report = tally.report();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["versions"][0]["source"], "nightly");
    assert_eq!(json["versions"][1]["source"], "online");
    assert_eq!(json["versions"][1]["classifier"]["confusion"]["a"]["a"], 1);
    assert!(json["versions"][0].get("classifier").is_none());
    assert_eq!(json["unmatched_reasons"]["why"], 1);
    let back: AccuracyReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);
}
