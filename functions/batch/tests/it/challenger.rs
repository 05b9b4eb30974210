//! The nightly run with a challenger, over in-memory stores: every row the champion
//! answers is scored by the challenger too and its answer stored beside the champion's,
//! the run's summary compares them (figures checked against what the test computes from
//! each model's own answers), and the champion's results are those of a run without a
//! challenger whatever the challenger does: agree, disagree, fail to load, lack an
//! attribute, refuse a category, be another version in another sandbox.

use std::collections::HashMap;

use aws_adapter::aws_sdk_dynamodb::types::AttributeValue;
use batch::challenger::{reasons, scanned_attributes};
use batch::summary::ChallengerSummary;
use batch::Job;
use scoring::{ComparisonReport, Model, Prediction};
use store::predictions::Prediction as Stored;
use testkit::batch_support::*;
use testkit::memory::{InMemoryPredictions, InMemoryRunLog, InMemoryScan};
use testkit::models::{challenger, challengers};
use testkit::Item;

fn load(bytes: &[u8], version: &str) -> Model {
    Model::load(bytes, version).unwrap()
}

fn fixture(name: &str, version: &str) -> Model {
    load(&challenger(name), version)
}

fn job_of(
    champion: Model,
    challenger: Option<Result<Model, String>>,
    items: &[Item],
    page: usize,
) -> MemoryJob {
    Job {
        model: champion,
        challenger,
        scan: InMemoryScan::new(scanned(items), page),
        sink: InMemoryPredictions::default(),
        run_log: InMemoryRunLog::default(),
        segments: 4,
        workers: 2,
        settings: fast_settings(),
        store_retries: Box::new(()),
        accuracy: None,
    }
}

/// The champion's part of each result: all but the challenger's answer and the time.
fn champion_part(written: &HashMap<String, Stored>) -> HashMap<String, Stored> {
    written
        .iter()
        .map(|(id, p)| {
            let mut p = p.clone();
            p.challenger = None;
            p.scored_at = "".into();
            (id.clone(), p)
        })
        .collect()
}

/// The same items through the same champion without a challenger: its results.
async fn without_challenger(champion: Model, items: &[Item]) -> HashMap<String, Stored> {
    let job = job_of(champion, None, items, 100);
    let summary = invoke_scheduled(&job).await.unwrap();
    assert!(summary.challenger.is_none());
    champion_part(&job.sink.snapshot())
}

fn comparison(summary: &batch::Summary, version: &str) -> ComparisonReport {
    let c: &ChallengerSummary = summary.challenger.as_ref().expect("a challenger summary");
    assert_eq!(c.model_version.as_deref(), Some(version));
    assert_eq!(c.load_error, None);
    c.comparison.clone().expect("the comparison's figures")
}

/// Each row's own answer from `model`, by id (`None` where it has none).
fn own_answers(model: &Model, items: &[Item]) -> HashMap<String, Option<Prediction>> {
    scanned(items)
        .into_iter()
        .map(|s| (s.product_id, model.predict_row(&s.row).ok()))
        .collect()
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * b.abs().max(1e-12)
}

/// The value at rank ceil(q n) of the sorted values (the tally's definition).
fn quantile(mut values: Vec<f64>, q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

#[tokio::test]
async fn a_refit_challenger_agrees_on_every_row_and_the_champions_results_are_unchanged() {
    let items = products(1000);
    let refit = fixture(challengers::REFIT, "refit-v1");
    let job = job_of(demo_model(), Some(Ok(refit.clone())), &items, 100);
    // As the state machine runs it: slices, each through JSON, summed by the finish step.
    let (summary, _) = run_to_completion(&job, true).await;
    let report = comparison(&summary, "refit-v1");
    assert_eq!((report.rows_compared, report.challenger_errors), (1000, 0));
    assert_eq!(report.agreement_rate, None, "two regressors: no labels");
    assert!(report.mean_abs_difference.unwrap() < 1e-5, "{report:?}");
    assert!(report.p99_abs_difference.unwrap() < 1e-5, "{report:?}");
    assert!(report.psi.unwrap() < 0.01, "{report:?}");

    let written = job.sink.snapshot();
    let own = own_answers(&refit, &items);
    for (id, p) in &written {
        let c = p.challenger.as_ref().expect("every row compared");
        assert_eq!(&*c.model_version, "refit-v1");
        assert_eq!(Some(&c.answer), own[id].as_ref(), "{id}");
    }
    assert_eq!(
        champion_part(&written),
        without_challenger(demo_model(), &items).await
    );
}

#[tokio::test]
async fn a_white_wine_challenger_differs_by_what_its_own_answers_say_sliced_or_whole() {
    let items = products(1599);
    let white = fixture(challengers::WHITE, "white-v1");
    let champion = own_answers(&demo_model(), &items);
    let theirs = own_answers(&white, &items);
    let mut differences: Vec<(f64, &str)> = champion
        .iter()
        .map(|(id, a)| {
            let (a, b) = (a.as_ref().unwrap(), theirs[id].as_ref().unwrap());
            let d = (f64::from(a.score().unwrap()) - f64::from(b.score().unwrap())).abs();
            (d, id.as_str())
        })
        .collect();
    let mean = differences.iter().map(|d| d.0).sum::<f64>() / differences.len() as f64;
    let p99 = quantile(differences.iter().map(|d| d.0).collect(), 0.99);
    differences.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    let most: Vec<&str> = differences.iter().take(10).map(|d| d.1).collect();

    let job = job_of(demo_model(), Some(Ok(white.clone())), &items, 100);
    let (sliced, _) = run_to_completion(&job, true).await;
    let whole = invoke_scheduled(&job).await.unwrap();
    for summary in [&sliced, &whole] {
        let report = comparison(summary, "white-v1");
        assert_eq!((report.rows_compared, report.challenger_errors), (1599, 0));
        assert!(
            close(report.mean_abs_difference.unwrap(), mean, 1e-9),
            "{report:?} against {mean}"
        );
        assert!(mean > 0.1, "the white wines' model disagrees: {mean}");
        // The tally's buckets: within about 3%.
        let p = report.p99_abs_difference.unwrap();
        assert!(close(p, p99, 0.04), "{p} against {p99}");
        assert!(report.psi.unwrap() > 0.0);
        let listed: Vec<&str> = report
            .most_different
            .iter()
            .map(|d| d.id.as_str())
            .collect();
        assert_eq!(listed, most);
        assert_eq!(
            report.most_different[0].abs_difference,
            Some(differences[0].0)
        );
    }
    let (a, b) = (
        comparison(&sliced, "white-v1"),
        comparison(&whole, "white-v1"),
    );
    assert_eq!(
        (a.p99_abs_difference, &a.most_different),
        (b.p99_abs_difference, &b.most_different),
        "slices sum to the figures of one invocation"
    );
    assert!(close(a.psi.unwrap(), b.psi.unwrap(), 1e-9));

    let written = job.sink.snapshot();
    for (id, p) in &written {
        let c = p.challenger.as_ref().expect("every row compared");
        assert_eq!(
            Some(&c.answer),
            theirs[id].as_ref(),
            "{id}: the white model's own"
        );
    }
    assert_eq!(
        champion_part(&written),
        without_challenger(demo_model(), &items).await
    );
}

#[tokio::test]
async fn a_challenger_that_failed_to_load_leaves_the_run_and_its_results_as_without_one() {
    let items = products(500);
    for bytes in [
        testkit::models::unloadable_challenger(),
        b"not an onnx model at all".to_vec(),
    ] {
        let error = Model::load(&bytes, "broken").unwrap_err().to_string();
        let job = job_of(demo_model(), Some(Err(error.clone())), &items, 100);
        let (summary, _) = run_to_completion(&job, false).await;
        assert_eq!(summary.rows_written, 500);
        assert_eq!(
            summary.challenger,
            Some(ChallengerSummary {
                model_version: None,
                load_error: Some(error.clone()),
                comparison: None,
            })
        );
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(
            json["challenger"],
            serde_json::json!({"model_version": null, "load_error": error})
        );
        let written = job.sink.snapshot();
        assert!(written.values().all(|p| p.challenger.is_none()));
        assert_eq!(
            champion_part(&written),
            without_challenger(demo_model(), &items).await
        );
    }
}

#[tokio::test]
async fn a_challenger_needing_an_attribute_a_row_lacks_counts_that_row_as_its_error() {
    let vintage = fixture(challengers::VINTAGE, "vintage-v1");
    assert!(
        vintage
            .features()
            .iter()
            .any(|f| f == challengers::VINTAGE_FEATURE),
        "{:?}",
        vintage.features()
    );
    // The scan reads the champion's features and the vintage.
    let attributes = scanned_attributes(&demo_model(), Some(&vintage));
    assert_eq!(&attributes[..11], demo_model().features());
    assert_eq!(attributes[11..], [challengers::VINTAGE_FEATURE.to_owned()]);

    // No product has a vintage: every row the champion answers is the challenger's error.
    let items = products(400);
    let job = job_of(demo_model(), Some(Ok(vintage.clone())), &items, 100);
    let summary = invoke_scheduled(&job).await.unwrap();
    let report = comparison(&summary, "vintage-v1");
    assert_eq!((report.rows_compared, report.challenger_errors), (0, 400));
    assert_eq!(
        report.challenger_error_reasons,
        [(reasons::MISSING_OR_INVALID.to_owned(), 400)].into()
    );
    assert_eq!(
        (report.mean_abs_difference, report.psi),
        (None, None),
        "nothing compared"
    );
    let written = job.sink.snapshot();
    assert_eq!(written.len(), 400);
    assert!(written.values().all(|p| p.challenger.is_none()));
    let alone = without_challenger(demo_model(), &items).await;
    assert_eq!(champion_part(&written), alone);

    // Every third product with a vintage, and one the champion rejects: those with one
    // are compared, each with the vintage model's own answer, however the batches fall.
    let mut items = products(400);
    for (i, item) in items.iter_mut().enumerate() {
        if i % 3 == 0 {
            let year = 1995 + (i % 16);
            item.insert("vintage".into(), AttributeValue::N(year.to_string()));
        }
    }
    items[7].remove("alcohol");
    let job = job_of(demo_model(), Some(Ok(vintage.clone())), &items, 100);
    let summary = invoke_scheduled(&job).await.unwrap();
    assert_eq!((summary.rows_written, summary.rows_rejected), (399, 1));
    let report = comparison(&summary, "vintage-v1");
    let dated = items.iter().filter(|i| i.contains_key("vintage")).count() as u64;
    assert_eq!(
        (report.rows_compared, report.challenger_errors),
        (dated, 399 - dated)
    );
    let own = own_answers(&vintage, &items);
    for (id, p) in &job.sink.snapshot() {
        assert_eq!(
            p.challenger.as_ref().map(|c| &c.answer),
            own[id].as_ref(),
            "{id}"
        );
    }
}

/// The demo classifier's products: colored wines (its `color` feature), `n` of them.
fn colored(n: usize) -> Vec<Item> {
    let wines = testkit::demo_data::colored_wines().unwrap();
    (0..n)
        .map(|i| {
            let mut item = wines[(i * 7) % wines.len()].clone();
            item.insert("product_id".into(), AttributeValue::S(format!("c-{i:05}")));
            item
        })
        .collect()
}

fn good_classifier() -> Model {
    let path = testkit::moto::repository_root().join("model/wine_good_classifier.onnx");
    load(&std::fs::read(path).unwrap(), "good-v1")
}

#[tokio::test]
async fn a_classifier_against_a_classifier_with_other_classes_agrees_as_their_labels_do() {
    let items = colored(600);
    let grades = fixture(challengers::GRADE, "grades-v1");
    let champion = own_answers(&good_classifier(), &items);
    let theirs = own_answers(&grades, &items);
    // Labels agree when the same as text (never, here: good/bad against high/low/medium);
    // the difference is in the probability each gives the champion's label (0 without it).
    let (mut agreed, mut difference_sum) = (0, 0.0);
    for (id, a) in &champion {
        let (Some(Prediction::Class(a)), Some(Prediction::Class(b))) = (a, &theirs[id]) else {
            panic!("{id}: two labels")
        };
        agreed += usize::from(a.label().to_string() == b.label().to_string());
        let p = b
            .iter()
            .find(|(c, _)| c.to_string() == a.label().to_string())
            .map_or(0.0, |(_, p)| p);
        difference_sum += (f64::from(a.probabilities[a.label]) - f64::from(p)).abs();
    }
    let job = job_of(good_classifier(), Some(Ok(grades.clone())), &items, 100);
    let (summary, _) = run_to_completion(&job, false).await;
    let report = comparison(&summary, "grades-v1");
    assert_eq!((report.rows_compared, report.challenger_errors), (600, 0));
    assert_eq!(report.agreement_rate, Some(agreed as f64 / 600.0));
    assert!(close(
        report.mean_abs_difference.unwrap(),
        difference_sum / 600.0,
        1e-9
    ));
    assert!(report.psi.is_some(), "labels against labels: {report:?}");
    let json = serde_json::to_value(&report).unwrap();
    assert!(
        json["most_different"][0]["champion"].is_string()
            && json["most_different"][0]["challenger"].is_string(),
        "{json}"
    );
    let written = job.sink.snapshot();
    for (id, p) in &written {
        let c = p.challenger.as_ref().expect("every row compared");
        assert_eq!(Some(&c.answer), theirs[id].as_ref(), "{id}");
    }
    assert_eq!(
        champion_part(&written),
        without_challenger(good_classifier(), &items).await
    );
}

#[tokio::test]
async fn a_category_the_challenger_refuses_is_its_error_and_the_champion_answers_the_row() {
    // The challenger: a regressor whose encoders refuse unknown categories, reading
    // `color` and features of its own, given to every row. Every fifth wine is a rosé,
    // which the champion's encoder ignores and the challenger's refuses.
    let strict = load(&testkit::models::strict_categorical_model(), "strict-v1");
    let extra = testkit::models::strict_categorical_row();
    let mut items = colored(200);
    for (i, item) in items.iter_mut().enumerate() {
        if i % 5 == 0 {
            item.insert("color".into(), AttributeValue::S("rosé".into()));
        }
        for (name, value) in &extra {
            if name == "color" {
                continue;
            }
            let value = match value {
                serde_json::Value::Number(n) => AttributeValue::N(n.to_string()),
                serde_json::Value::String(s) => AttributeValue::S(s.clone()),
                _ => AttributeValue::Null(true),
            };
            item.insert(name.clone(), value);
        }
    }
    let own = own_answers(&strict, &items);
    let refused = own.values().filter(|a| a.is_none()).count() as u64;
    assert_eq!(refused, 40, "the rosés");

    let job = job_of(good_classifier(), Some(Ok(strict.clone())), &items, 50);
    let (summary, _) = run_to_completion(&job, false).await;
    assert_eq!((summary.rows_written, summary.rows_rejected), (200, 0));
    let report = comparison(&summary, "strict-v1");
    assert_eq!(
        (report.rows_compared, report.challenger_errors),
        (200 - refused, refused)
    );
    assert_eq!(
        report.challenger_error_reasons,
        [(reasons::UNKNOWN_CATEGORY.to_owned(), refused)].into()
    );
    // A classifier against a regressor: rows compared, no difference to measure.
    assert_eq!(
        (
            report.agreement_rate,
            report.mean_abs_difference,
            report.psi
        ),
        (None, None, None)
    );
    for (id, p) in &job.sink.snapshot() {
        assert_eq!(
            p.challenger.as_ref().map(|c| &c.answer),
            own[id].as_ref(),
            "{id}"
        );
    }
}

#[tokio::test]
async fn a_slice_scored_where_the_challenger_differs_writes_its_rows_without_and_counts_them() {
    let items = products(300);
    let planner = job_of(
        demo_model(),
        Some(Ok(fixture(challengers::WHITE, "white-v1"))),
        &items,
        100,
    );
    let plan = plan_of(&planner).await;
    let planned = plan
        .challenger
        .clone()
        .expect("the plan names its challenger");
    assert_eq!(planned.model_version.as_deref(), Some("white-v1"));
    assert!(plan
        .slices
        .iter()
        .all(|s| s.work.challenger.as_ref() == Some(&planned)));

    // Sandboxes after a redeployment: another challenger version, one that failed to
    // load, none configured. Each writes the champion's results and counts every row.
    for (here, reason) in [
        (
            Some(Ok(fixture(challengers::WHITE, "white-v2"))),
            reasons::OTHER_VERSION_HERE,
        ),
        (Some(Err("corrupt".to_owned())), reasons::NOT_LOADED_HERE),
        (None, reasons::NOT_LOADED_HERE),
    ] {
        let sandbox = job_of(demo_model(), here, &items, 100);
        let slice = sandbox
            .score_slice(plan.slices[0].clone(), None, chrono::Utc::now())
            .await
            .unwrap();
        assert!(slice.done);
        assert_eq!(slice.work.challenger.as_ref(), Some(&planned), "kept");
        let report = slice.work.totals.comparison.report();
        assert_eq!(
            (report.rows_compared, report.challenger_errors),
            (0, slice.work.totals.scored)
        );
        assert_eq!(
            report.challenger_error_reasons,
            [(reason.to_owned(), slice.work.totals.scored)].into()
        );
        assert!(sandbox
            .sink
            .snapshot()
            .values()
            .all(|p| p.challenger.is_none()));
    }

    // A run planned where the challenger failed to load compares nowhere, even in a
    // sandbox that loaded it, and its summary says why.
    let failed = job_of(demo_model(), Some(Err("corrupt".to_owned())), &items, 100);
    let plan = plan_of(&failed).await;
    let loaded = job_of(
        demo_model(),
        Some(Ok(fixture(challengers::WHITE, "white-v1"))),
        &items,
        100,
    );
    let slice = loaded
        .score_slice(plan.slices[0].clone(), None, chrono::Utc::now())
        .await
        .unwrap();
    assert!(slice.work.totals.comparison.is_empty());
    assert!(loaded
        .sink
        .snapshot()
        .values()
        .all(|p| p.challenger.is_none()));
}
