//! The nightly join in the template: the batch function reads the outcomes table, the
//! stored predictions (BatchGetItem) and the capture bucket's captures/ (and nothing
//! else of it); the optional accuracy alarms, on the metrics the batch records with
//! FunctionName alone; the dashboard's accuracy widgets, on the names the batch records.

use std::collections::BTreeSet;

use aws_adapter::config::BatchConfig;
use batch::telemetry::names::*;
use e2e::venv_tool_or_skip;
use serde_json::{json, Value};
use testkit::cloudformation::{
    evaluate, parameter_values, props, statements_with, translate, Parameters,
};

const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn holds(t: &Value, condition: &str, params: &Parameters) -> bool {
    evaluate(&json!({ "Condition": condition }), t, params) == Some(Value::Bool(true))
}

#[test]
fn the_batch_function_is_configured_for_the_join_and_may_read_what_it_joins() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let env = &props(&t, "BatchFunction")["Environment"]["Variables"];
    assert_eq!(env["OUTCOMES_TABLE"], json!({ "Ref": "OutcomesTable" }));
    assert_eq!(env["CAPTURE_BUCKET"], json!({ "Ref": "CaptureBucket" }));
    assert_eq!(env["CAPTURE_PREFIX"], "captures/");
    // The function reads the template's values as they are.
    assert_eq!(
        env["CAPTURE_LOOKBACK_DAYS"],
        json!({ "Fn::FindInMap": ["Batch", "Settings", "CaptureLookbackDays"] })
    );
    let lookback = t["Mappings"]["Batch"]["Settings"]["CaptureLookbackDays"]
        .as_str()
        .expect("a lookback")
        .to_owned();
    let config = BatchConfig::from_lookup(|name| match name {
        "CAPTURE_LOOKBACK_DAYS" => Some(lookback.clone()),
        "CAPTURE_PREFIX" => Some("captures/".into()),
        _ => Some("1".into()),
    })
    .unwrap();
    assert_eq!(
        (config.capture_lookback_days, config.capture_prefix.as_str()),
        (7, "captures/")
    );

    let granted = |params: &Parameters| -> Vec<(BTreeSet<String>, Vec<Value>)> {
        statements_with(&t, "BatchFunctionRole", params)
    };
    let none = parameter_values(&t, &[]);
    let on = |action: &str| -> Vec<Value> {
        granted(&none)
            .into_iter()
            .filter(|(a, _)| a.contains(action))
            .flat_map(|(_, r)| r)
            .collect()
    };
    assert_eq!(
        on("dynamodb:BatchGetItem"),
        [json!({ "Fn::GetAtt": ["PredictionsTable", "Arn"] })]
    );
    assert_eq!(
        on("dynamodb:Query"),
        [json!({ "Fn::Sub": "${OutcomesTable.Arn}/index/by_arrival" })]
    );
    let capture_bucket: Vec<Value> = granted(&none)
        .into_iter()
        .filter(|(_, r)| r.iter().any(|r| r.to_string().contains("CaptureBucket")))
        .flat_map(|(a, r)| {
            r.into_iter()
                .map(move |r| json!({ "actions": a, "resource": r }))
        })
        .collect();
    assert_eq!(
        capture_bucket,
        [
            json!({ "actions": ["s3:ListBucket"], "resource": { "Fn::GetAtt": ["CaptureBucket", "Arn"] } }),
            json!({ "actions": ["s3:GetObject"], "resource": { "Fn::Sub": "${CaptureBucket.Arn}/captures/*" } }),
        ],
        "list and read the captures, nothing more"
    );
    // With the stack's own key: decrypt through S3, on that key only.
    let keyed = granted(&parameter_values(&t, &[("KmsKeyArn", KEY)]));
    let decrypt: Vec<_> = keyed
        .iter()
        .filter(|(a, _)| a.contains("kms:Decrypt"))
        .collect();
    assert_eq!(decrypt.len(), 1);
    assert_eq!(decrypt[0].1, [json!(KEY)]);
    assert_eq!(keyed.len(), granted(&none).len() + 1);
}

#[test]
fn the_accuracy_alarms_exist_only_when_asked_for_on_the_metrics_for_alarms() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    for (parameter, condition, alarm, metric, comparison, value) in [
        (
            "AccuracyMaeAlarmThreshold",
            "HasAccuracyMaeAlarm",
            "AccuracyMaeAlarm",
            ACCURACY_MAE,
            "GreaterThanThreshold",
            "0.75",
        ),
        (
            "AccuracyRateAlarmPercent",
            "HasAccuracyRateAlarm",
            "AccuracyRateAlarm",
            ACCURACY_RATE,
            "LessThanThreshold",
            "80",
        ),
    ] {
        assert_eq!(t["Parameters"][parameter]["Default"], "", "{parameter}");
        assert_eq!(t["Parameters"][parameter]["Type"], "String");
        assert_eq!(t["Resources"][alarm]["Condition"], condition);
        assert!(!holds(&t, condition, &parameter_values(&t, &[])));
        assert!(holds(
            &t,
            condition,
            &parameter_values(&t, &[(parameter, value)])
        ));
        let p = props(&t, alarm);
        assert_eq!(p["MetricName"], metric);
        assert_eq!(p["Namespace"], json!({ "Ref": "MetricsNamespace" }));
        // Recorded with FunctionName alone: over every version the run joined.
        assert_eq!(
            p["Dimensions"],
            json!([{ "Name": aws_adapter::emf::FUNCTION_DIMENSION, "Value": { "Ref": "BatchFunction" } }])
        );
        assert_eq!(p["Threshold"], json!({ "Ref": parameter }));
        assert_eq!(p["ComparisonOperator"], comparison);
        assert_eq!(
            p["TreatMissingData"], "notBreaching",
            "no outcome, no alarm"
        );
    }
    // A number CloudFormation accepts is one the alarm reads; others are refused.
    let pattern = |parameter: &str| {
        t["Parameters"][parameter]["AllowedPattern"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        pattern("AccuracyMaeAlarmThreshold"),
        "([0-9]+(\\.[0-9]+)?)?"
    );
    assert_eq!(
        pattern("AccuracyRateAlarmPercent"),
        t["Parameters"]["ChallengerDisagreementAlarmPercent"]["AllowedPattern"]
    );
}

#[test]
fn the_dashboard_shows_accuracy_per_version_and_outcomes_joined_and_unmatched() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let body = props(&t, "ModelDashboard")["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("one !Sub string");
    // The optional alarms and their (possibly empty) thresholds are not named.
    for name in [
        "AccuracyMaeAlarm",
        "AccuracyRateAlarm",
        "AccuracyMaeAlarmThreshold",
        "AccuracyRateAlarmPercent",
    ] {
        assert!(!body.contains(name), "{name}");
    }
    let per_version = "{${MetricsNamespace},FunctionName,ModelVersion}";
    for metric in [
        ACCURACY_MAE,
        ACCURACY_RMSE,
        ACCURACY_BIAS,
        ACCURACY_RATE,
        ACCURACY_LOG_LOSS,
        OUTCOMES_JOINED,
    ] {
        let searched = body.lines().any(|line| {
            line.contains(&format!("SEARCH('{per_version}"))
                && line.contains(&format!("MetricName=\\\"{metric}\\\""))
                && line.contains("FunctionName=\\\"${BatchFunction}\\\"")
        });
        assert!(searched, "{metric} per version");
    }
    for metric in [OUTCOMES_JOINED, OUTCOMES_UNMATCHED] {
        let alone = format!(
            "[\"${{MetricsNamespace}}\", \"{metric}\", \"FunctionName\", \"${{BatchFunction}}\""
        );
        assert!(body.contains(&alone), "{metric} with FunctionName alone");
    }
}
