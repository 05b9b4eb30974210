use std::sync::Arc;

use super::*;
use crate::prediction::ClassPrediction;

fn class(classes: &[Label], label: usize, probabilities: &[f32]) -> Prediction {
    Prediction::Class(ClassPrediction {
        classes: Arc::from(classes),
        label,
        probabilities: probabilities.to_vec(),
    })
}

fn text(s: &str) -> Label {
    Label::Text(s.into())
}

#[test]
fn rows_compare_by_score_or_by_label_and_its_probability() {
    let row = compare(&Prediction::Score(5.5), &Prediction::Score(5.25));
    assert_eq!(row.abs_difference, Some(0.25));
    assert_eq!(row.labels_agree, None);

    // Other classes: the champion's label is not among the challenger's, so its
    // probability there is 0.
    let champion = class(&[Label::Int(0), Label::Int(1)], 1, &[0.2, 0.8]);
    let challenger = class(&[text("low"), text("high")], 0, &[0.6, 0.4]);
    let row = compare(&champion, &challenger);
    assert_eq!(row.labels_agree, Some(false));
    assert!((row.abs_difference.unwrap() - 0.8).abs() < 1e-6);

    // An integer class and the same class as text agree.
    let challenger = class(&[text("0"), text("1")], 1, &[0.3, 0.7]);
    let row = compare(&champion, &challenger);
    assert_eq!(row.labels_agree, Some(true));
    assert!((row.abs_difference.unwrap() - 0.1).abs() < 1e-6);

    let row = compare(&Prediction::Score(1.0), &champion);
    assert_eq!(
        row,
        RowComparison {
            abs_difference: None,
            labels_agree: None
        }
    );
}

#[test]
fn buckets_keep_quantiles_within_their_width() {
    let mut buckets = Buckets::default();
    for i in 1..=1000 {
        buckets.count(f64::from(i) / 100.0);
    }
    for (q, exact) in [(0.5, 5.0), (0.99, 9.9), (0.1, 1.0)] {
        let got = buckets.quantile(q).unwrap();
        assert!(
            (got - exact).abs() / exact < 0.035,
            "q{q}: {got} vs {exact}"
        );
    }
    let mut signed = Buckets::default();
    for v in [-3.0, -1.0, 0.0, 1e-45, 2.0] {
        signed.count(v);
    }
    assert_eq!(
        signed.quantile(0.2),
        Some(Buckets::value(Buckets::key(-3.0)))
    );
    assert!(signed.quantile(0.2).unwrap() < -2.9);
    assert_eq!(signed.quantile(0.6), Some(0.0));
    assert_eq!(Buckets::default().quantile(0.5), None);
}

#[test]
fn psi_is_zero_for_the_same_answers_and_grows_with_a_shift() {
    let mut a = Buckets::default();
    let mut same = Buckets::default();
    let mut shifted = Buckets::default();
    for i in 0..1000 {
        let v = 3.0 + f64::from(i) / 200.0;
        a.count(v);
        same.count(v);
        shifted.count(v + 1.5);
    }
    assert!(a.psi(&same).unwrap().abs() < 1e-9);
    assert!(a.psi(&shifted).unwrap() > 0.5);
}

#[test]
fn a_tally_reports_agreement_differences_errors_and_the_most_different_rows() {
    let mut tally = ComparisonTally::default();
    for i in 0..100 {
        let champion = f32::from(i as u8) / 10.0;
        // Every tenth row is off by 1; the rest by 0.
        let off = if i % 10 == 0 { 1.0 } else { 0.0 };
        tally.add(
            &format!("p{i}"),
            &Prediction::Score(champion),
            Ok(&Prediction::Score(champion + off)),
        );
    }
    tally.add(
        "x",
        &Prediction::Score(1.0),
        Err("missing or invalid attribute"),
    );
    tally.add(
        "y",
        &Prediction::Score(1.0),
        Err("missing or invalid attribute"),
    );
    let report = tally.report();
    assert_eq!(report.rows_compared, 100);
    assert_eq!(report.challenger_errors, 2);
    assert_eq!(
        report.challenger_error_reasons["missing or invalid attribute"],
        2
    );
    assert_eq!(report.agreement_rate, None);
    assert!((report.mean_abs_difference.unwrap() - 0.1).abs() < 1e-6);
    assert!((report.p99_abs_difference.unwrap() - 1.0).abs() < 0.035);
    assert_eq!(report.most_different.len(), MOST_DIFFERENT_ROWS);
    assert!(report
        .most_different
        .iter()
        .all(|d| d.id.starts_with('p') && d.abs_difference.unwrap() > 0.99));
    assert!(report.psi.unwrap() >= 0.0);
}

#[test]
fn classifiers_agree_by_label_and_list_different_labels_first() {
    let classes = [Label::Int(0), Label::Int(1)];
    let mut tally = ComparisonTally::default();
    for i in 0..40 {
        let champion = class(&classes, usize::from(i % 2 == 0), &[0.4, 0.6]);
        // Rows 2, 6, 10, ... agree (a quarter); the others do not.
        let (label, p) = if i % 4 == 0 { (0, 0.55) } else { (1, 0.1) };
        let challenger = class(&classes, label, &[p, 1.0 - p]);
        tally.add(&format!("w{i}"), &champion, Ok(&challenger));
    }
    let report = tally.report();
    assert_eq!(report.rows_compared, 40);
    assert_eq!(report.agreement_rate, Some(0.25));
    let first = &report.most_different[0];
    assert_eq!(first.labels_agree, Some(false));
    let json = serde_json::to_value(first).unwrap();
    assert!(json["champion"].is_string(), "{json}");
    assert!(report.psi.is_some());
}

#[test]
fn tallies_merge_to_the_tally_of_all_rows_and_round_trip_through_json() {
    let rows: Vec<(String, f32, f32)> = (0..300)
        .map(|i| {
            (
                format!("p{i}"),
                i as f32 / 30.0,
                (i * 7 % 300) as f32 / 30.0,
            )
        })
        .collect();
    let mut whole = ComparisonTally::default();
    let mut parts = [ComparisonTally::default(), ComparisonTally::default()];
    for (i, (id, a, b)) in rows.iter().enumerate() {
        let (a, b) = (Prediction::Score(*a), Prediction::Score(*b));
        whole.add(id, &a, Ok(&b));
        parts[i % 2].add(id, &a, Ok(&b));
    }
    let [mut first, second] = parts;
    first.merge(second);
    let (merged, whole) = (first.report(), whole.report());
    assert_eq!(merged.rows_compared, whole.rows_compared);
    assert_eq!(merged.p99_abs_difference, whole.p99_abs_difference);
    assert_eq!(merged.psi, whole.psi);
    assert!(
        (merged.mean_abs_difference.unwrap() - whole.mean_abs_difference.unwrap()).abs() < 1e-9
    );
    let ids = |r: &ComparisonReport| {
        r.most_different
            .iter()
            .map(|d| d.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&merged), ids(&whole));

    let json = serde_json::to_string(&first).unwrap();
    let back: ComparisonTally = serde_json::from_str(&json).unwrap();
    let back = back.report();
    assert_eq!(back.rows_compared, merged.rows_compared);
    assert_eq!(back.p99_abs_difference, merged.p99_abs_difference);
    assert_eq!(back.psi, merged.psi);
    assert_eq!(ids(&back), ids(&merged));
    assert_eq!(
        back.most_different[0].champion,
        merged.most_different[0].champion
    );
    assert!(json.len() < 4000, "{} bytes", json.len());
    assert_eq!(
        serde_json::from_str::<ComparisonTally>("{}").unwrap(),
        ComparisonTally::default()
    );
}
