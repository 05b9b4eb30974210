//! The nightly run's state machine: a Map over the plan's slices, each looping until done,
//! retrying transient errors and catching the rest; accepted by cfn-lint and moto.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use e2e::{moto_or_skip, unique, venv_tool_or_skip};
use serde_json::{json, Value};
use testkit::cloudformation::{props, translate};
use testkit::state_machine;

/// The state machine's definition as Step Functions would get it, for a function ARN.
fn nightly_definition(t: &Value) -> Value {
    let function = "arn:aws:lambda:us-east-1:123456789012:function:stack-batch";
    let text = state_machine::definition(
        t,
        &BTreeMap::from([("BatchFunctionArn", function.to_owned())]),
    )
    .unwrap();
    serde_json::from_str(&text).expect("the definition is JSON")
}

#[test]
fn the_nightly_run_loops_each_slice_retries_transient_errors_and_catches_the_rest() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let d = nightly_definition(&t);
    let states = &d["States"];
    assert_eq!(
        d["TimeoutSeconds"], 43200,
        "a night ends, one way or the other, within 12 hours"
    );
    let map = &states[d["StartAt"].as_str().unwrap()];
    assert_eq!(map["Type"], "Map");
    // Over the plan's slices, as many at once as the plan's workers, in one execution.
    assert_eq!(map["ItemsPath"], "$.slices");
    assert_eq!(map["MaxConcurrencyPath"], "$.workers");
    assert_eq!(map["ItemProcessor"]["ProcessorConfig"]["Mode"], "INLINE");
    assert!(
        t["Parameters"]["BatchWorkers"]["MaxValue"]
            .as_u64()
            .unwrap()
            <= 40,
        "an inline Map runs at most 40 iterations at once"
    );
    // Each iteration: invoke the function with the slice; go round until it says done.
    let inner = &map["ItemProcessor"];
    let task_id = inner["StartAt"].as_str().unwrap();
    let task = &inner["States"][task_id];
    assert_eq!(task["Resource"], "arn:aws:states:::lambda:invoke");
    assert_eq!(
        task["Parameters"]["FunctionName"],
        "arn:aws:lambda:us-east-1:123456789012:function:stack-batch"
    );
    assert_eq!(task["Parameters"]["Payload.$"], "$");
    assert_eq!(task["OutputPath"], "$.Payload");
    let choice = &inner["States"][task["Next"].as_str().unwrap()];
    assert_eq!(choice["Type"], "Choice");
    assert_eq!(
        choice["Default"], task_id,
        "not done: the slice goes round again"
    );
    assert_eq!(choice["Choices"][0]["Variable"], "$.slice.done");
    assert_eq!(choice["Choices"][0]["BooleanEquals"], true);
    let done = &inner["States"][choice["Choices"][0]["Next"].as_str().unwrap()];
    assert_eq!(done["End"], true);
    assert_eq!(
        done["Parameters"],
        json!({ "slice.$": "$.slice.slice" }),
        "an iteration's output stays small whatever the slice holds"
    );
    // The plan goes on to the finish step, which gets it whole.
    assert_eq!(map["ResultPath"], Value::Null);
    assert_eq!(
        props(&t, "BatchFunction")["Environment"]["Variables"]["BATCH_WORKERS"],
        json!({ "Ref": "BatchWorkers" }),
        "the plan's workers, the Map's concurrency, come from the parameter"
    );
    let finish = &states[map["Next"].as_str().unwrap()];
    assert_eq!(finish["Parameters"]["Payload"], json!({ "finish.$": "$" }));
    assert_eq!(finish["End"], true);
    // Every Task retries Lambda's transient errors with backoff; the slices also the run's
    // own (the code's list), and no retry outlasts what the function's timeout allows.
    let retried = |task: &Value| -> BTreeSet<String> {
        task["Retry"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| {
                assert!(r["BackoffRate"].as_f64().unwrap() >= 2.0, "{r}");
                assert!(r["MaxAttempts"].as_u64().unwrap() >= 2, "{r}");
                r["ErrorEquals"].as_array().unwrap().clone()
            })
            .map(|e| e.as_str().unwrap().to_owned())
            .collect()
    };
    for task in [task, finish] {
        let retried = retried(task);
        for lambda in [
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
        ] {
            assert!(retried.contains(lambda), "{lambda}: {retried:?}");
        }
        assert!(
            !retried.contains("States.ALL"),
            "not every error is worth a retry"
        );
        assert!(
            task["TimeoutSeconds"].as_u64().unwrap() > 900,
            "beyond the function's own timeout"
        );
    }
    let slice_retries = retried(task);
    for error_type in batch::job::RETRYABLE_ERROR_TYPES {
        assert!(
            slice_retries.contains(*error_type),
            "{error_type}: {slice_retries:?}"
        );
    }
    for not_retried in [
        "ModelChanged",
        "TooLargeForOneInvocation",
        "NoScheduleTime",
        "ScanRefused",
        "WriteRefused",
    ] {
        assert!(!slice_retries.contains(not_retried), "{not_retried}");
    }
    // Whatever is left ends the run failed, with the error that ended it.
    for state in [map, finish] {
        let catch = &state["Catch"][0];
        assert_eq!(catch["ErrorEquals"], json!(["States.ALL"]));
        let failed = &states[catch["Next"].as_str().unwrap()];
        assert_eq!(failed["Type"], "Fail");
        assert_eq!(
            failed["ErrorPath"],
            format!("{}.Error", catch["ResultPath"].as_str().unwrap())
        );
    }
}

#[test]
fn cfn_lint_and_moto_accept_the_nightly_definition() {
    let cfn_lint = venv_tool_or_skip!("cfn-lint");
    let endpoint = moto_or_skip!();
    let t = translate(&[]);
    let definition = nightly_definition(&t);
    // cfn-lint checks a definition (E3601) only in AWS::StepFunctions::StateMachine's
    // Definition, never in the Serverless one: a template of that alone.
    let template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": { "NightlyRun": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "StateMachineType": "STANDARD",
                "RoleArn": "arn:aws:iam::123456789012:role/nightly-run",
                "Definition": definition,
            },
        }},
    });
    let dir = std::env::temp_dir().join(unique("nightly-definition"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("nightly.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&template).unwrap()).unwrap();
    let out = Command::new(cfn_lint).arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "cfn-lint: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A definition cfn-lint refuses is refused here, so that the check above can fail.
    let mut broken = template.clone();
    broken["Resources"]["NightlyRun"]["Properties"]["Definition"]["States"]["ScoreSlices"]
        ["Type"] = json!("Loop");
    std::fs::write(&path, serde_json::to_vec_pretty(&broken).unwrap()).unwrap();
    let out = Command::new(venv_tool_or_skip!("cfn-lint"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "cfn-lint let an unknown state type through"
    );
    let _ = std::fs::remove_dir_all(&dir);

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let sfn = state_machine::client(&endpoint).await;
        let text = definition.to_string();
        let arn = state_machine::create(&sfn, &unique("nightly"), &text)
            .await
            .unwrap();
        let described = sfn
            .describe_state_machine()
            .state_machine_arn(&arn)
            .send()
            .await
            .unwrap();
        let stored: Value = serde_json::from_str(described.definition()).unwrap();
        assert_eq!(stored, definition);
    });
}
