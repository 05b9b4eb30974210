//! The real `batch` binary, run as Lambda runs it: against a local Runtime API on loopback,
//! with moto for S3 and DynamoDB (`MOTO_ENDPOINT`, set by `make test`). The scheduled event
//! goes through main.rs, lambda_runtime and the job, with no state machine configured: one
//! invocation scores the whole table, or says the table needs the state machine. With
//! `CHALLENGER_MODEL_KEY`, the challenger is loaded beside the model (or its failure
//! logged, counted and said), and the scan reads both models' features. (The state
//! machine's runs, with this binary, are in the `state_machine` module.)

use std::time::Duration;

use batch::pipeline::SCAN_PAGE_ITEMS;
use batch::Summary;
use testkit::batch_support::{assert_every_row_once_by, stored_predictions, MotoStack, RUN_ID};
use testkit::bootstrap::Bootstrap;
use testkit::runtime_api::{Options, RuntimeApi};
use tokio::process::Child;

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:batch:live";

/// On the process's moto server (started from the venv, set up if missing: never skipped).
async fn stack(rows: usize, segments: u32) -> MotoStack {
    MotoStack::create(&testkit::moto::endpoint(), rows, segments).await
}

/// The API with every invocation given `timeout` (its deadline header).
async fn runtime_api(timeout: Duration) -> RuntimeApi {
    RuntimeApi::start_with(Options {
        function_arn: FUNCTION_ARN.into(),
        timeout,
    })
    .await
    .unwrap()
}

/// The debug build of this machine's architecture.
pub(crate) fn native() -> Bootstrap {
    Bootstrap::native(env!("CARGO_BIN_EXE_batch"))
}

fn spawn(api: &RuntimeApi, env: &[(&'static str, String)]) -> Child {
    spawn_bootstrap(&native(), api, env)
}

pub(crate) fn spawn_bootstrap(
    bootstrap: &Bootstrap,
    api: &RuntimeApi,
    env: &[(&'static str, String)],
) -> Child {
    api.launch(bootstrap, "batch")
        .envs(env.iter().cloned())
        .spawn()
        .unwrap()
}

fn scheduled_event() -> Vec<u8> {
    std::fs::read(testkit::moto::repository_root().join("events/batch-scheduled.json")).unwrap()
}

async fn summary_of(pending: testkit::runtime_api::PendingInvocation) -> Summary {
    let done = tokio::time::timeout(Duration::from_secs(120), pending.wait())
        .await
        .expect("the invocation ends in time")
        .unwrap();
    let body = done.response().expect("a summary, not an error");
    serde_json::from_slice(body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_run_scores_every_row_and_stores_its_summary() {
    a_scheduled_run_scores_every_row(&native()).await;
}

/// One scheduled invocation of `bootstrap` scores a 400-row table in 4 segments.
pub(crate) async fn a_scheduled_run_scores_every_row(bootstrap: &Bootstrap) {
    let stack = stack(400, 4).await;
    let api = runtime_api(Duration::from_secs(900)).await;
    let _child = spawn_bootstrap(bootstrap, &api, &stack.env);

    let summary = summary_of(api.push(scheduled_event())).await;
    assert_eq!(
        (
            summary.status.as_str(),
            summary.run_id.as_str(),
            summary.rows_scanned,
            summary.rows_written,
            summary.invocations
        ),
        ("complete", RUN_ID, 400, 400, 1)
    );
    assert!(!summary.model_version.is_empty());
    let written = stored_predictions(&stack.clients.dynamodb, &stack.predictions_table).await;
    assert_every_row_once_by(&written, &stack.items, &summary.model_version);
    assert_eq!(stack.latest_summary().await, Some(summary));
    assert!(
        api.protocol_errors().is_empty(),
        "{:?}",
        api.protocol_errors()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_too_large_for_one_invocation_fails_naming_the_state_machine() {
    // One segment, 2.5 pages: with a deadline inside the margin (20 s against 60) the
    // invocation reads one page and stops.
    let rows = SCAN_PAGE_ITEMS * 5 / 2;
    let stack = stack(rows, 1).await;
    let api = runtime_api(Duration::from_secs(20)).await;
    let _child = spawn(&api, &stack.env);

    let done = tokio::time::timeout(Duration::from_secs(120), api.push(scheduled_event()).wait())
        .await
        .expect("the invocation ends in time")
        .unwrap();
    let error = done.response().expect_err("an error, not a summary");
    let body: serde_json::Value = serde_json::from_str(&error.body).unwrap();
    assert_eq!(body["errorType"], "TooLargeForOneInvocation");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("STATE_MACHINE_ARN"),
        "{body}"
    );
    // What it read is written, and correct; no summary marks the run complete.
    let written = stored_predictions(&stack.clients.dynamodb, &stack.predictions_table).await;
    assert_eq!(written.len(), SCAN_PAGE_ITEMS);
    let expected = testkit::batch_support::expected_scores(&stack.items);
    for (id, p) in &written {
        assert_eq!(p.answer, scoring::Prediction::Score(expected[id]), "{id}");
    }
    assert_eq!(stack.latest_summary().await, None, "no run completed");
    assert!(
        api.protocol_errors().is_empty(),
        "{:?}",
        api.protocol_errors()
    );
}

#[tokio::test]
async fn a_start_without_its_configuration_fails_the_init_naming_the_variable() {
    let mut stack = stack(0, 1).await;
    stack.env.retain(|(name, _)| *name != "PREDICTIONS_TABLE");
    let api = runtime_api(Duration::from_secs(900)).await;
    let child = spawn(&api, &stack.env);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("exits")
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(api.polls().is_empty(), "it must never ask for an event");
    let logs = String::from_utf8_lossy(&out.stdout);
    let line: serde_json::Value = logs
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("a JSON log line: {logs}"));
    assert_eq!(
        line["fields"]["error"],
        "environment variable PREDICTIONS_TABLE is not set"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_explain_top_k_every_result_carries_its_largest_contributions() {
    let mut stack = stack(300, 2).await;
    stack.env.push(("EXPLAIN_TOP_K", "3".into()));
    let api = runtime_api(Duration::from_secs(900)).await;
    let _child = spawn(&api, &stack.env);

    let summary = summary_of(api.push(scheduled_event())).await;
    assert_eq!(
        (
            summary.status.as_str(),
            summary.rows_written,
            summary.rows_unexplained
        ),
        ("complete", 300, 0)
    );
    let written = stored_predictions(&stack.clients.dynamodb, &stack.predictions_table).await;
    assert_every_row_once_by(&written, &stack.items, &summary.model_version);
    for p in written.values() {
        let e = p.explanation.as_ref().expect("every result explained");
        assert_eq!((e.space, &e.class), (scoring::Space::Score, &None));
        assert_eq!(e.contributions.len(), 3, "{}", p.product_id);
        assert!(
            e.contributions
                .windows(2)
                .all(|w| w[0].1.abs() >= w[1].1.abs()),
            "{:?}",
            e.contributions
        );
    }
}

/// The init's error, from a process that must exit 1 without asking for an event (the
/// JSON log line that has one: the model's load is logged before).
async fn init_failure(api: &RuntimeApi, child: Child) -> String {
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("exits")
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(api.polls().is_empty(), "it must never ask for an event");
    let logs = String::from_utf8_lossy(&out.stdout);
    logs.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|l| Some(l["fields"]["error"].as_str()?.to_owned()))
        .unwrap_or_else(|| panic!("a JSON log line with an error: {logs}"))
}

#[tokio::test]
async fn explanations_asked_of_a_model_that_cannot_explain_fail_the_init_with_its_reason() {
    let mut stack = stack(0, 1).await;
    // The scoring fixture `random_forest` has no model card, so no node covers.
    let fixture =
        testkit::moto::repository_root().join("libs/scoring/tests/fixtures/random_forest.onnx");
    testkit::resources::put_object(
        &stack.clients.s3,
        &stack.bucket,
        "model.onnx",
        std::fs::read(fixture).unwrap(),
    )
    .await
    .unwrap();
    stack.env.push(("EXPLAIN_TOP_K", "3".into()));
    let api = runtime_api(Duration::from_secs(900)).await;
    let error = init_failure(&api, spawn(&api, &stack.env)).await;
    assert!(
        error.starts_with("EXPLAIN_TOP_K is 3, but the model cannot explain its answers: "),
        "{error}"
    );
    assert!(error.contains("cover"), "the model's reason: {error}");
    assert!(
        error.ends_with("set EXPLAIN_TOP_K to 0 to run without explanations"),
        "{error}"
    );

    // Out of bounds: named before any model is loaded.
    stack.env.pop();
    stack.env.push(("EXPLAIN_TOP_K", "51".into()));
    let api = runtime_api(Duration::from_secs(900)).await;
    assert_eq!(
        init_failure(&api, spawn(&api, &stack.env)).await,
        "environment variable EXPLAIN_TOP_K is \"51\": must be between 0 (no explanations) and 50"
    );
}

/// Every item of the predictions table as stored, `scored_at` left out (the time of
/// scoring), by product id.
async fn raw_items(stack: &MotoStack) -> std::collections::HashMap<String, testkit::Item> {
    let mut all = std::collections::HashMap::new();
    let mut start = None;
    loop {
        let page = stack
            .clients
            .dynamodb
            .scan()
            .table_name(&stack.predictions_table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items() {
            let mut item = item.clone();
            item.remove("scored_at");
            let id = item["product_id"].as_s().unwrap().clone();
            all.insert(id, item);
        }
        match page.last_evaluated_key {
            Some(key) => start = Some(key),
            None => return all,
        }
    }
}

/// The scheduled run in a new sandbox with `env`; its summary and what it wrote to stdout.
async fn run_scheduled(env: &[(&'static str, String)]) -> (Summary, String) {
    let api = runtime_api(Duration::from_secs(900)).await;
    let mut child = spawn(&api, env);
    let summary = summary_of(api.push(scheduled_event())).await;
    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    (summary, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Uploads a challenger to the stack's bucket and names it in the environment.
async fn with_challenger(stack: &MotoStack, bytes: Vec<u8>) -> Vec<(&'static str, String)> {
    testkit::resources::put_object(&stack.clients.s3, &stack.bucket, "challenger.onnx", bytes)
        .await
        .unwrap();
    let mut env = stack.env.clone();
    env.push(("CHALLENGER_MODEL_KEY", "challenger.onnx".into()));
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenger_key_loads_it_beside_the_model_and_the_run_stores_and_compares_both() {
    use testkit::models::{challenger, challengers};
    let stack = stack(400, 4).await;
    let (alone, _) = run_scheduled(&stack.env).await;
    assert!(alone.challenger.is_none(), "none configured: none said");
    let without = raw_items(&stack).await;

    let env = with_challenger(&stack, challenger(challengers::WHITE)).await;
    let (summary, logs) = run_scheduled(&env).await;
    assert_eq!(summary.model_version, alone.model_version);
    let c = summary
        .challenger
        .clone()
        .expect("the challenger's figures");
    let version = c.model_version.clone().expect("loaded");
    let report = c.comparison.expect("compared");
    assert_eq!((report.rows_compared, report.challenger_errors), (400, 0));
    assert!(report.mean_abs_difference.unwrap() > 0.1, "{report:?}");
    assert!(logs.contains("challenger loaded"), "{logs}");

    let white = scoring::Model::load(&challenger(challengers::WHITE), "white").unwrap();
    let written = stored_predictions(&stack.clients.dynamodb, &stack.predictions_table).await;
    assert_every_row_once_by(&written, &stack.items, &summary.model_version);
    for s in testkit::batch_support::scanned(&stack.items) {
        let stored = written[&s.product_id].challenger.clone().expect("answered");
        assert_eq!(&*stored.model_version, version);
        assert_eq!(stored.answer, white.predict_row(&s.row).unwrap());
    }
    // The champion's attributes, byte for byte those of the run without a challenger.
    let mut with = raw_items(&stack).await;
    for item in with.values_mut() {
        item.retain(|k, _| !k.starts_with("challenger_"));
    }
    assert_eq!(with, without);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenger_that_fails_to_load_is_logged_counted_and_said_and_the_run_goes_on() {
    let stack = stack(300, 2).await;
    let (_, _) = run_scheduled(&stack.env).await;
    let without = raw_items(&stack).await;

    let env = with_challenger(&stack, b"\x08\x07garbage, not a model".to_vec()).await;
    let (summary, logs) = run_scheduled(&env).await;
    assert_eq!(
        (summary.status.as_str(), summary.rows_written),
        ("complete", 300)
    );
    let c = summary
        .challenger
        .clone()
        .expect("the summary says what happened");
    assert_eq!((c.model_version, c.comparison), (None, None));
    let error = c.load_error.expect("why it failed");
    assert!(error.contains("challenger.onnx"), "{error}");
    // The stored summary says it too.
    assert_eq!(stack.latest_summary().await, Some(summary));
    // Logged, and counted by the champion's version.
    assert!(
        logs.lines()
            .any(|l| l.contains("the challenger failed to load") && l.contains("challenger.onnx")),
        "{logs}"
    );
    let counted = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|doc| doc.get("ChallengerLoadFailed").is_some())
        .unwrap_or_else(|| panic!("a ChallengerLoadFailed metric: {logs}"));
    assert_eq!(counted["ChallengerLoadFailed"], 1.0);
    assert!(counted["ChampionVersion"].is_string(), "{counted}");
    // The champion's items, byte for byte as without a challenger.
    assert_eq!(raw_items(&stack).await, without);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scan_reads_an_attribute_only_the_challenger_needs_where_the_table_has_it() {
    use testkit::models::{challenger, challengers};
    let stack = stack(300, 2).await;
    let (_, _) = run_scheduled(&stack.env).await;
    let without = raw_items(&stack).await;
    // Every other product gets a vintage.
    let table = stack
        .env
        .iter()
        .find(|(k, _)| *k == "ATTRIBUTES_TABLE")
        .unwrap()
        .1
        .clone();
    let mut items = stack.items.clone();
    for (i, item) in items.iter_mut().enumerate().filter(|(i, _)| i % 2 == 0) {
        let year = 1995 + i % 16;
        item.insert(
            challengers::VINTAGE_FEATURE.into(),
            aws_adapter::aws_sdk_dynamodb::types::AttributeValue::N(year.to_string()),
        );
    }
    testkit::resources::put_items(&stack.clients.dynamodb, &table, &items, |_| {})
        .await
        .unwrap();

    let env = with_challenger(&stack, challenger(challengers::VINTAGE)).await;
    let (summary, _) = run_scheduled(&env).await;
    let report = summary.challenger.unwrap().comparison.unwrap();
    assert_eq!((report.rows_compared, report.challenger_errors), (150, 150));
    assert_eq!(
        report.challenger_error_reasons,
        [("missing or invalid attribute".to_owned(), 150)].into()
    );
    let vintage = scoring::Model::load(&challenger(challengers::VINTAGE), "v").unwrap();
    let written = stored_predictions(&stack.clients.dynamodb, &stack.predictions_table).await;
    for s in testkit::batch_support::scanned(&items) {
        let stored = written[&s.product_id]
            .challenger
            .as_ref()
            .map(|c| &c.answer);
        assert_eq!(
            stored,
            vintage.predict_row(&s.row).ok().as_ref(),
            "{}",
            s.product_id
        );
    }
    let mut with = raw_items(&stack).await;
    for item in with.values_mut() {
        item.retain(|k, _| !k.starts_with("challenger_"));
    }
    assert_eq!(
        with, without,
        "the champion's items as without a challenger"
    );
}
