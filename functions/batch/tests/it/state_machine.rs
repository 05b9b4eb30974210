//! The nightly run through the template's own state machine, end to end on this machine:
//! moto executes the definition taken from template.yaml (Map over slices, the Choice
//! loop, Retry, Catch, the finish step), and its Lambda tasks call the Invoke API of a
//! local Runtime API, where the real `batch` binaries (two sandboxes, so slices run at
//! once) answer. The schedule's event goes to the function as EventBridge sends it; the
//! function plans the night and starts the execution through the Step Functions SDK.
//! With a challenger, its comparison travels with the slices and is summed at the end.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_adapter::aws_sdk_sfn::types::ExecutionStatus;
use batch::run::Plan;
use batch::{StartedRun, Summary};
use testkit::batch_support::{assert_every_row_once_by, MotoStack, RUN_ID};
use testkit::bootstrap::Bootstrap;
use testkit::moto::Moto;
use testkit::runtime_api::{Options, RuntimeApi};
use testkit::state_machine;
use tokio::process::Child;

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:batch";
/// Sandboxes of the function: the slices the state machine may run at once.
const SANDBOXES: usize = 2;

struct Night {
    api: RuntimeApi,
    moto: Moto,
    stack: MotoStack,
    sfn: aws_adapter::aws_sdk_sfn::Client,
    _sandboxes: Vec<Child>,
}

/// A local Runtime API, moto executing state machines against it, the template's state
/// machine created there, a stack of `rows` products in `segments` segments, and
/// [`SANDBOXES`] batch binaries configured with the state machine and `workers`. Each
/// invocation's deadline is `timeout` away: under the function's 60 s margin, an
/// invocation reads one page per segment and hands the slice back.
async fn night(rows: usize, segments: u32, workers: u32, timeout: Duration) -> Night {
    night_with(rows, segments, workers, timeout, None).await
}

/// [`night`] with the sandboxes running `bootstrap`.
async fn night_of(
    bootstrap: &Bootstrap,
    rows: usize,
    segments: u32,
    workers: u32,
    timeout: Duration,
) -> Night {
    night_of_with(bootstrap, rows, segments, workers, timeout, None).await
}

/// [`night`], the sandboxes configured with `challenger` (its bytes) when given.
async fn night_with(
    rows: usize,
    segments: u32,
    workers: u32,
    timeout: Duration,
    challenger: Option<Vec<u8>>,
) -> Night {
    night_of_with(
        &Bootstrap::native(env!("CARGO_BIN_EXE_batch")),
        rows,
        segments,
        workers,
        timeout,
        challenger,
    )
    .await
}

async fn night_of_with(
    bootstrap: &Bootstrap,
    rows: usize,
    segments: u32,
    workers: u32,
    timeout: Duration,
    challenger: Option<Vec<u8>>,
) -> Night {
    let api = RuntimeApi::start_with(Options {
        function_arn: FUNCTION_ARN.into(),
        timeout,
    })
    .await
    .unwrap();
    let moto = Moto::start_executing_state_machines(&format!("http://{}", api.address()))
        .await
        .unwrap();
    let stack = MotoStack::create(&moto.endpoint, rows, segments).await;
    let sfn = state_machine::client(&moto.endpoint).await;
    let template = state_machine::translated_template().unwrap();
    let definition = state_machine::definition(
        &template,
        &BTreeMap::from([("BatchFunctionArn", FUNCTION_ARN.to_owned())]),
    )
    .unwrap();
    let machine = state_machine::create(&sfn, "nightly", &definition)
        .await
        .unwrap();
    let mut env = stack.env.clone();
    env.extend([
        ("STATE_MACHINE_ARN", machine),
        ("BATCH_WORKERS", workers.to_string()),
    ]);
    if let Some(bytes) = challenger {
        testkit::resources::put_object(&stack.clients.s3, &stack.bucket, "challenger.onnx", bytes)
            .await
            .unwrap();
        env.push(("CHALLENGER_MODEL_KEY", "challenger.onnx".into()));
    }
    let sandboxes = (0..SANDBOXES)
        .map(|_| {
            api.launch(bootstrap, "batch")
                .envs(env.iter().cloned())
                .spawn()
                .unwrap()
        })
        .collect();
    Night {
        api,
        moto,
        stack,
        sfn,
        _sandboxes: sandboxes,
    }
}

fn scheduled_event() -> Vec<u8> {
    std::fs::read(testkit::moto::repository_root().join("events/batch-scheduled.json")).unwrap()
}

impl Night {
    /// The schedule's event, answered by the planner.
    async fn schedule(&self) -> StartedRun {
        let done = tokio::time::timeout(
            Duration::from_secs(60),
            self.api.push(scheduled_event()).wait(),
        )
        .await
        .expect("the planner answers in time")
        .unwrap();
        serde_json::from_value(done.response_json().unwrap()).unwrap()
    }

    async fn wait(
        &self,
        execution: &str,
    ) -> aws_adapter::aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
        state_machine::wait_for_end(&self.sfn, execution, Duration::from_secs(240))
            .await
            .unwrap()
    }

    /// The plan the planner started the execution with.
    async fn plan(&self, execution: &str) -> Plan {
        let described = self.wait(execution).await;
        serde_json::from_str(described.input().unwrap()).unwrap()
    }

    /// The function's slice invocations, as (handed out, completed).
    fn slice_invocations(&self) -> Vec<(std::time::Instant, std::time::Instant)> {
        self.api
            .history()
            .into_iter()
            .filter(|i| matches!(i.response_json(), Ok(v) if v.get("slice").is_some()))
            .map(|i| (i.handed_out, i.completed))
            .collect()
    }

    async fn stop(self) {
        drop(self._sandboxes);
        self.api.shutdown().await;
        self.moto.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_night_runs_its_slices_at_once_each_over_several_invocations_then_completes() {
    a_night_of(&Bootstrap::native(env!("CARGO_BIN_EXE_batch"))).await;
}

/// The template's state machine runs a night of 2 slices on sandboxes of `bootstrap`.
pub(crate) async fn a_night_of(bootstrap: &Bootstrap) {
    // 2 slices of 1 segment, each segment 1.25 pages: one page per invocation, so each
    // slice takes two invocations round the Choice loop.
    let night = night_of(bootstrap, 2500, 2, 2, Duration::from_secs(20)).await;
    let started = night.schedule().await;
    assert!(!started.already_started);
    assert_eq!((started.run_id.as_str(), started.slices), (RUN_ID, 2));

    let described = night.wait(&started.execution).await;
    assert_eq!(
        described.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        described.cause()
    );
    let summary: Summary = serde_json::from_str(described.output().unwrap()).unwrap();
    assert_eq!(
        (
            summary.status.as_str(),
            summary.run_id.as_str(),
            summary.rows_scanned,
            summary.rows_written,
            summary.rows_rejected
        ),
        ("complete", RUN_ID, 2500, 2500, 0)
    );
    assert_eq!(summary.model_version, started.model_version);
    assert!(
        summary.invocations >= 4,
        "each slice went round the loop: {} invocations",
        summary.invocations
    );
    assert!(
        summary.drift.is_some(),
        "the slices' drift tallies were summed"
    );
    assert_every_row_once_by(
        &night.stack.predictions().await,
        &night.stack.items,
        &summary.model_version,
    );
    assert_eq!(night.stack.latest_summary().await, Some(summary.clone()));

    // The two slices' invocations overlapped in time: they ran at once.
    let slices = night.slice_invocations();
    assert_eq!(slices.len(), summary.invocations as usize);
    let overlapped = slices
        .iter()
        .enumerate()
        .any(|(i, a)| slices[i + 1..].iter().any(|b| a.0 < b.1 && b.0 < a.1));
    assert!(overlapped, "slices ran one after the other: {slices:?}");

    // The same night's event again (a repeated delivery): nothing starts twice.
    let again = night.schedule().await;
    assert!(again.already_started, "{again:?}");
    let executions = night
        .sfn
        .list_executions()
        .state_machine_arn(described.state_machine_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(executions.executions().len(), 1);
    assert!(
        night.api.protocol_errors().is_empty(),
        "{:?}",
        night.api.protocol_errors()
    );
    night.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_throttling_is_retried_and_a_rerun_rewrites_only_unfinished_slices_identically() {
    let night = night(1200, 4, 2, Duration::from_secs(900)).await;
    // Lambda refuses the first invocation of a slice: the Retry absorbs it.
    night.api.throttle_invokes(1);
    let started = night.schedule().await;
    let described = night.wait(&started.execution).await;
    let history = state_machine::history(&night.sfn, &started.execution)
        .await
        .unwrap();
    assert_eq!(
        described.status,
        ExecutionStatus::Succeeded,
        "{:?} {history:#?}",
        described.cause()
    );
    assert!(
        history
            .iter()
            .any(|e| e["type"] == "TaskFailed" && e["error"] == "Lambda.TooManyRequestsException"),
        "the throttled invocation failed its task: {history:?}"
    );
    let first: Summary = serde_json::from_str(described.output().unwrap()).unwrap();
    assert_eq!((first.rows_scanned, first.rows_written), (1200, 1200));
    let written = night.stack.predictions().await;
    assert_every_row_once_by(&written, &night.stack.items, &first.model_version);

    // The same plan run again, as an operator reruns a failed night: here slice 1 never
    // kept its figures, so it is scored again; slice 0 completed and is skipped. The
    // results are identical, only slice 1's rewritten.
    night
        .stack
        .clients
        .s3
        .delete_object()
        .bucket(&night.stack.bucket)
        .key(format!("batch-runs/{RUN_ID}/slice-1.json"))
        .send()
        .await
        .unwrap();
    let rerun = night
        .sfn
        .start_execution()
        .state_machine_arn(described.state_machine_arn())
        .name("rerun")
        .input(described.input().unwrap())
        .send()
        .await
        .unwrap();
    let described = night.wait(rerun.execution_arn()).await;
    assert_eq!(
        described.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        described.cause()
    );
    let second: Summary = serde_json::from_str(described.output().unwrap()).unwrap();
    assert_eq!(
        (second.run_id.as_str(), second.rows_written, &second.drift),
        (first.run_id.as_str(), first.rows_written, &first.drift)
    );
    let rewritten = night.stack.predictions().await;
    assert_eq!(rewritten.len(), written.len());
    let mut scored_again = 0;
    for (id, p) in &written {
        let q = &rewritten[id];
        assert_eq!(
            (&p.answer, &p.run_id, &p.model_version),
            (&q.answer, &q.run_id, &q.model_version),
            "{id}"
        );
        scored_again += usize::from(p.scored_at != q.scored_at);
    }
    assert!(
        scored_again > 0 && scored_again < written.len(),
        "only the unfinished slice is scored again: {scored_again} of {}",
        written.len()
    );
    night.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slice_that_cannot_succeed_ends_the_run_failed_and_incomplete() {
    let night = night(300, 2, 2, Duration::from_secs(900)).await;
    let started = night.schedule().await;
    let plan = night.plan(&started.execution).await;
    // A plan made with another model than the one the function now holds (the model was
    // replaced between planning and scoring): every slice refuses it, and no retry helps.
    let mut stale = plan.clone();
    stale.run_id = "nightly-stale".into();
    stale.model_version = "a-replaced-model".into();
    for slice in &mut stale.slices {
        slice.work.run_id = stale.run_id.clone();
        slice.work.model_version = stale.model_version.clone();
    }
    let latest_before = night.stack.latest_summary().await;
    let execution = night
        .sfn
        .start_execution()
        .state_machine_arn(night.wait(&started.execution).await.state_machine_arn())
        .name("stale")
        .input(serde_json::to_string(&stale).unwrap())
        .send()
        .await
        .unwrap();
    let described = night.wait(execution.execution_arn()).await;
    assert_eq!(described.status, ExecutionStatus::Failed);
    assert_eq!(
        described.error(),
        Some("ModelChanged"),
        "{:?}",
        described.cause()
    );
    assert!(
        described
            .cause()
            .unwrap_or_default()
            .contains("a-replaced-model"),
        "{:?}",
        described.cause()
    );
    // The run was not marked complete: the latest completed run is still the first.
    assert_eq!(night.stack.latest_summary().await, latest_before);
    assert!(latest_before.is_some_and(|s| s.run_id == RUN_ID));
    night.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challengers_comparison_travels_with_the_slices_and_is_summed_by_the_finish_step() {
    use testkit::models::{challenger, challengers};
    // As the first test: 2 slices, each over two invocations round the Choice loop.
    let night = night_with(
        2500,
        2,
        2,
        Duration::from_secs(20),
        Some(challenger(challengers::WHITE)),
    )
    .await;
    let started = night.schedule().await;
    let plan = night.plan(&started.execution).await;
    let version = plan
        .challenger
        .clone()
        .and_then(|c| c.model_version)
        .expect("the plan names the challenger's version");
    let described = night.wait(&started.execution).await;
    assert_eq!(
        described.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        described.cause()
    );
    let summary: Summary = serde_json::from_str(described.output().unwrap()).unwrap();
    assert!(summary.invocations >= 4, "{}", summary.invocations);
    let c = summary
        .challenger
        .clone()
        .expect("the challenger's figures");
    assert_eq!(c.model_version.as_deref(), Some(version.as_str()));
    let report = c.comparison.expect("compared");
    assert_eq!((report.rows_compared, report.challenger_errors), (2500, 0));

    // The figures of every row, as the test computes them from each model's answers.
    let champion = scoring::Model::load(&testkit::models::champion(), "c").unwrap();
    let white = scoring::Model::load(&challenger(challengers::WHITE), "w").unwrap();
    let written = night.stack.predictions().await;
    let mut differences = Vec::new();
    for s in testkit::batch_support::scanned(&night.stack.items) {
        let theirs = white.score_row(&s.row).unwrap();
        let stored = written[&s.product_id].challenger.clone().expect("answered");
        assert_eq!(
            (stored.answer, &*stored.model_version),
            (scoring::Prediction::Score(theirs), version.as_str())
        );
        let ours = champion.score_row(&s.row).unwrap();
        differences.push((f64::from(ours) - f64::from(theirs)).abs());
    }
    let mean = differences.iter().sum::<f64>() / differences.len() as f64;
    let got = report.mean_abs_difference.unwrap();
    assert!((got - mean).abs() < 1e-9 * mean, "{got} against {mean}");
    let top = differences.iter().copied().fold(0.0, f64::max);
    assert_eq!(report.most_different[0].abs_difference, Some(top));
    assert_every_row_once_by(&written, &night.stack.items, &summary.model_version);
    assert_eq!(night.stack.latest_summary().await, Some(summary));
    night.stop().await;
}
