//! Least privilege: each function's role, and the state machine's, allows exactly what its
//! code needs, on its own resources only.

use std::collections::BTreeSet;

use e2e::venv_tool_or_skip;
use serde_json::{json, Value};
use testkit::cloudformation::{of_type, props, refers_to, statements, translate};
use testkit::state_machine;

/// `role` allows exactly `expected` actions, each only on resources referring to the
/// logical ids (or containing the text) given with it, and nothing on `*`.
fn assert_allows_exactly(t: &Value, role: &str, expected: &[(&str, &[&str])]) {
    let statements = statements(t, role);
    let allowed: BTreeSet<&str> = statements
        .iter()
        .flat_map(|(actions, _)| actions.iter().map(String::as_str))
        .collect();
    let wanted: BTreeSet<&str> = expected.iter().map(|(a, _)| *a).collect();
    assert_eq!(allowed, wanted, "{role}'s actions");
    for (action, targets) in expected {
        for (actions, resources) in statements.iter().filter(|(a, _)| a.contains(*action)) {
            for r in resources {
                assert_ne!(r, &json!("*"), "{role}: {actions:?} on *");
                let text = r.to_string();
                assert!(
                    targets
                        .iter()
                        .any(|target| refers_to(r, target) || text.contains(target)),
                    "{role}: {action} on {r}, expected one of {targets:?}"
                );
            }
        }
    }
}

#[test]
fn each_function_may_do_what_it_needs_and_nothing_else() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    for (function, role) in [
        ("PredictFunction", "PredictFunctionRole"),
        ("BatchFunction", "BatchFunctionRole"),
    ] {
        assert_eq!(
            props(&t, function)["Role"],
            json!({ "Fn::GetAtt": [role, "Arn"] })
        );
    }
    assert_allows_exactly(
        &t,
        "PredictFunctionRole",
        &[
            ("logs:CreateLogStream", &["PredictLogGroup"]),
            ("logs:PutLogEvents", &["PredictLogGroup"]),
            (
                "s3:GetObject",
                &[
                    "${ModelBucket.Arn}/${ModelKey}",
                    "${ModelBucket.Arn}/${RunsPrefix}latest.json",
                ],
            ),
            ("dynamodb:GetItem", &["AttributesTable", "PredictionsTable"]),
            ("s3:ListBucket", &["ModelBucket"]),
            ("dynamodb:BatchWriteItem", &["OutcomesTable"]),
            ("dynamodb:PutItem", &["OutcomesTable"]),
        ],
    );
    assert_allows_exactly(
        &t,
        "BatchFunctionRole",
        &[
            ("logs:CreateLogStream", &["BatchLogGroup"]),
            ("logs:PutLogEvents", &["BatchLogGroup"]),
            (
                "s3:GetObject",
                &[
                    "${ModelBucket.Arn}/${ModelKey}",
                    "${ModelBucket.Arn}/${RunsPrefix}*",
                    "${CaptureBucket.Arn}/captures/*",
                ],
            ),
            ("s3:PutObject", &["${ModelBucket.Arn}/${RunsPrefix}*"]),
            ("dynamodb:Scan", &["AttributesTable"]),
            ("dynamodb:BatchWriteItem", &["PredictionsTable"]),
            ("dynamodb:PutItem", &["PredictionsTable"]),
            ("dynamodb:BatchGetItem", &["PredictionsTable"]),
            ("dynamodb:Query", &["${OutcomesTable.Arn}/index/by_arrival"]),
            (
                "states:StartExecution",
                &["stateMachine:${AWS::StackName}-nightly"],
            ),
            ("s3:ListBucket", &["ModelBucket", "CaptureBucket"]),
            ("sqs:SendMessage", &["BatchFailureQueue"]),
        ],
    );
    assert!(
        props(&t, "BatchFunction").get("RecursiveLoop").is_none(),
        "no function invokes itself: Lambda's loop detection stays on"
    );
    // The function may start exactly the stack's state machine, the one its
    // STATE_MACHINE_ARN names; the ARN is built from the name the state machine is given.
    let start: Vec<Value> = statements(&t, "BatchFunctionRole")
        .into_iter()
        .filter(|(a, _)| a.contains("states:StartExecution"))
        .flat_map(|(_, r)| r)
        .collect();
    let machine_arn = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-nightly";
    assert_eq!(start, [json!({ "Fn::Sub": machine_arn })]);
    assert_eq!(
        props(&t, "BatchFunction")["Environment"]["Variables"]["STATE_MACHINE_ARN"],
        json!({ "Fn::Sub": machine_arn })
    );
    let (machine_id, machine) = of_type(&t, "AWS::StepFunctions::StateMachine")[0];
    assert_eq!(machine_id, state_machine::LOGICAL_ID);
    let machine = &machine["Properties"];
    assert_eq!(
        machine["StateMachineName"],
        json!({ "Fn::Sub": "${AWS::StackName}-nightly" })
    );
    assert_eq!(machine["StateMachineType"], "STANDARD");
    // The state machine may invoke exactly the batch function, as the one it is given.
    assert_eq!(
        machine["RoleArn"],
        json!({ "Fn::GetAtt": ["NightlyRunRole", "Arn"] })
    );
    assert_allows_exactly(
        &t,
        "NightlyRunRole",
        &[("lambda:InvokeFunction", &["BatchFunction"])],
    );
    let invoke: Vec<Value> = statements(&t, "NightlyRunRole")
        .into_iter()
        .flat_map(|(_, r)| r)
        .collect();
    assert_eq!(invoke, [json!({ "Fn::GetAtt": ["BatchFunction", "Arn"] })]);
    assert_eq!(
        machine["DefinitionSubstitutions"],
        json!({ "BatchFunctionArn": { "Fn::GetAtt": ["BatchFunction", "Arn"] } })
    );
    let trust = &props(&t, "NightlyRunRole")["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Principal"]["Service"], "states.amazonaws.com");
    assert_eq!(
        props(&t, "BatchFunction")["FunctionName"],
        json!({ "Fn::Sub": "${AWS::StackName}-batch" })
    );
    // The S3 prefix the policy allows is the one the function is told to write (and read
    // its slices back) under.
    let runs_prefix = &props(&t, "BatchFunction")["Environment"]["Variables"]["RUNS_PREFIX"];
    let put = statements(&t, "BatchFunctionRole")
        .into_iter()
        .find(|(a, _)| a.contains("s3:PutObject"))
        .unwrap()
        .1;
    assert_eq!(&put[0]["Fn::Sub"][1]["RunsPrefix"], runs_prefix);
}
