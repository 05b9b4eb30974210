//! `EXPLAIN_TOP_K` over in-memory stores: 0 changes nothing; above 0 every result carries
//! the top k of its full explanation (largest first, for the class a classifier chose);
//! a model that cannot explain still has every answer written, each counted unexplained.

use std::collections::HashMap;

use scoring::{Model, Prediction as Answer, Row, Space, Value};
use store::predictions::Prediction;
use store::scan::ScannedRow;
use testkit::batch_support::*;
use testkit::memory::{InMemoryPredictions, InMemoryRunLog, InMemoryScan};
use testkit::{demo_data, Item};

fn explaining(k: usize) -> batch::pipeline::Settings {
    batch::pipeline::Settings {
        explain_top_k: k,
        ..fast_settings()
    }
}

fn job_of(model: Model, rows: Vec<ScannedRow>, k: usize) -> MemoryJob {
    batch::Job {
        model,
        scan: InMemoryScan::new(rows, 70),
        sink: InMemoryPredictions::default(),
        run_log: InMemoryRunLog::default(),
        segments: 3,
        workers: 1,
        settings: explaining(k),
        store_retries: Box::new(()),
        accuracy: None,
        challenger: None,
    }
}

/// The row's full explanation, alone in its batch: (the target explaining its answer, the
/// top `k` by the domain's own `RowExplanation::top`, every contribution of that target).
fn full_explanation(model: &Model, row: &Row, k: usize) -> (usize, Vec<(String, f64)>, Vec<f64>) {
    let mut batch = model.schema().batch(1);
    model.schema().read_row(row, &mut batch).unwrap();
    let scored = model.score(&batch, &mut ()).unwrap();
    let explained = model.explain(&batch, &scored).unwrap();
    let row = explained.row(0).expect("an answered row is explained");
    let answer = scored.outcomes().next().unwrap().unwrap();
    let target = match &answer {
        Answer::Class(c) => row.target_of(c.label()),
        Answer::Score(_) => 0,
    };
    let top = row
        .top(target, k)
        .into_iter()
        .map(|(f, v)| (f.to_owned(), v))
        .collect();
    (target, top, row.contributions(target).to_vec())
}

/// Each stored result carries the top `k` of its row's full explanation, in order.
fn assert_top_k(
    model: &Model,
    rows: &[ScannedRow],
    written: &HashMap<String, Prediction>,
    k: usize,
) {
    let targets = model.explainability().expect("the model explains");
    assert_eq!(written.len(), rows.len());
    for scanned in rows {
        let p = &written[&scanned.product_id];
        let e = p
            .explanation
            .as_ref()
            .unwrap_or_else(|| panic!("{}: none", p.product_id));
        let (target, top, all) = full_explanation(model, &scanned.row, k);
        assert_eq!(e.space, targets.space);
        assert_eq!(
            e.class,
            targets.classes.as_ref().map(|c| c[target].clone()),
            "the class explained"
        );
        assert_eq!(e.contributions.len(), k.min(all.len()), "{}", p.product_id);
        for ((feature, value), (want_feature, want)) in e.contributions.iter().zip(&top) {
            assert_eq!(&**feature, want_feature, "{}", p.product_id);
            assert!(
                (value - want).abs() <= 1e-9 * want.abs().max(1e-9),
                "{}: {feature} {value} against {want}",
                p.product_id
            );
        }
        // Largest first, and none left out is larger than the last kept.
        let kept: Vec<f64> = e.contributions.iter().map(|(_, v)| v.abs()).collect();
        assert!(kept.windows(2).all(|w| w[0] >= w[1]), "{kept:?}");
        let smallest_kept = kept.last().copied().unwrap_or_default();
        let mut magnitudes: Vec<f64> = all.iter().map(|v| v.abs()).collect();
        magnitudes.sort_by(|a, b| b.total_cmp(a));
        assert!(
            magnitudes
                .get(k)
                .is_none_or(|&next| next <= smallest_kept + 1e-12),
            "{}: {magnitudes:?} against {kept:?}",
            p.product_id
        );
    }
}

#[tokio::test]
async fn with_k_0_the_results_are_as_without_explanations() {
    let items = products(600);
    let job = job(items.clone(), 70, InMemoryPredictions::default());
    assert_eq!(job.settings.explain_top_k, 0, "off by default");
    let summary = invoke_scheduled(&job).await.unwrap();
    let written = job.sink.snapshot();
    assert_every_row_once(&written, &items);
    assert!(written.values().all(|p| p.explanation.is_none()));
    assert_eq!(summary.rows_unexplained, 0);
    let json = serde_json::to_value(&summary).unwrap();
    assert!(json.get("rows_unexplained").is_none(), "{json}");
}

#[tokio::test]
async fn with_k_3_each_result_carries_the_top_3_of_its_explanation() {
    let items = products(600);
    let rows = scanned(&items);
    let job = job_of(demo_model(), rows.clone(), 3);
    let summary = invoke_scheduled(&job).await.unwrap();
    assert_eq!(
        (
            summary.rows_written,
            summary.rows_rejected,
            summary.rows_unexplained
        ),
        (600, 0, 0)
    );
    let written = job.sink.snapshot();
    // The answers are those of a run without explanations.
    assert_every_row_once(&written, &items);
    assert_top_k(&job.model, &rows, &written, 3);
    let e = written["p-00000"].explanation.as_ref().unwrap();
    assert_eq!((e.space, &e.class), (Space::Score, &None));
}

#[tokio::test]
async fn a_k_above_the_feature_count_stores_every_feature() {
    let items = products(40);
    let rows = scanned(&items);
    let job = job_of(demo_model(), rows.clone(), 50);
    invoke_scheduled(&job).await.unwrap();
    let features = job.model.features().len();
    let written = job.sink.snapshot();
    assert!(written
        .values()
        .all(|p| p.explanation.as_ref().unwrap().contributions.len() == features));
    assert_top_k(&job.model, &rows, &written, 50);
}

#[tokio::test]
async fn a_classifier_stores_the_contributions_of_the_class_it_chose() {
    let model = Model::load(
        &std::fs::read(testkit::moto::repository_root().join("model/wine_good_classifier.onnx"))
            .unwrap(),
        "classifier",
    )
    .unwrap();
    // Red and white wines, good and not.
    let all = demo_data::colored_wines().unwrap();
    let items: Vec<Item> = all.iter().step_by(all.len() / 300).cloned().collect();
    let rows = scanned(&items);
    let job = job_of(model, rows.clone(), 3);
    let summary = invoke_scheduled(&job).await.unwrap();
    assert_eq!(
        (summary.rows_written, summary.rows_unexplained),
        (rows.len() as u64, 0)
    );
    let written = job.sink.snapshot();
    assert_top_k(&job.model, &rows, &written, 3);
    let labels: std::collections::HashSet<String> = written
        .values()
        .filter_map(|p| match &p.answer {
            Answer::Class(c) => Some(c.label().to_string()),
            Answer::Score(_) => None,
        })
        .collect();
    assert!(
        labels.len() > 1,
        "both labels among the answers: {labels:?}"
    );
}

/// The scoring fixture `random_forest`: no model card, so no covers.
fn model_without_covers() -> (Model, Vec<ScannedRow>) {
    let root = testkit::moto::repository_root().join("libs/scoring/tests/fixtures");
    let model = Model::load(
        &std::fs::read(root.join("random_forest.onnx")).unwrap(),
        "rf",
    )
    .unwrap();
    let features = model.features().to_vec();
    let rows = (0..120)
        .map(|i| ScannedRow {
            product_id: format!("p-{i:03}"),
            row: features
                .iter()
                .enumerate()
                .map(|(j, f)| {
                    (
                        f.clone(),
                        Value::Number(((i * 7 + j * 3) % 11) as f64 / 5.0),
                    )
                })
                .collect(),
        })
        .collect();
    (model, rows)
}

#[tokio::test]
async fn a_model_that_cannot_explain_has_every_answer_written_and_counted_unexplained() {
    let (model, rows) = model_without_covers();
    let reason = model.explainability().expect_err("no covers").to_owned();
    assert!(reason.contains("cover"), "{reason}");
    let job = job_of(model, rows.clone(), 3);
    let summary = invoke_scheduled(&job).await.unwrap();
    assert_eq!(
        (
            summary.rows_written,
            summary.rows_rejected,
            summary.rows_unexplained
        ),
        (120, 0, 120)
    );
    let json = serde_json::to_value(&summary).unwrap();
    assert_eq!(json["rows_unexplained"], 120);
    let written = job.sink.snapshot();
    assert_eq!(written.len(), 120);
    for scanned in &rows {
        let p = &written[&scanned.product_id];
        assert!(p.explanation.is_none());
        assert_eq!(
            p.answer,
            Answer::Score(job.model.score_row(&scanned.row).unwrap())
        );
    }
}
