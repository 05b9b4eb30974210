//! The canary that moves the `live` alias and the alarms that roll it back, the model's
//! own alarms (rows outside the training data, a drifting batch run) and the dashboard.

use std::collections::BTreeSet;

use e2e::venv_tool_or_skip;
use serde_json::{json, Value};
use testkit::cloudformation::{default_number, of_function, of_type, props, refers_to, translate};

#[test]
fn the_live_alias_moves_by_a_canary_that_alarms_roll_back() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let (version, _) = of_function(&t, "AWS::Lambda::Version", "PredictFunction");
    let (alias_id, alias) = of_function(&t, "AWS::Lambda::Alias", "PredictFunction");
    assert_eq!(alias["Properties"]["Name"], "live");
    assert_eq!(
        alias["Properties"]["FunctionVersion"],
        json!({ "Fn::GetAtt": [version, "Version"] })
    );
    let group_ref = &alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"];
    let group = props(&t, group_ref["Ref"].as_str().expect("a deployment group"));
    assert_eq!(
        group["DeploymentConfigName"]["Fn::Sub"][1]["ConfigName"],
        "Canary10Percent5Minutes"
    );
    assert_eq!(group["AutoRollbackConfiguration"]["Enabled"], true);
    assert!(group["AutoRollbackConfiguration"]["Events"]
        .as_array()
        .unwrap()
        .contains(&json!("DEPLOYMENT_STOP_ON_ALARM")));
    assert_eq!(group["AlarmConfiguration"]["Enabled"], true);
    let alarms: BTreeSet<&str> = group["AlarmConfiguration"]["Alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Name"]["Ref"].as_str().unwrap())
        .collect();
    let mut metrics = BTreeSet::new();
    for alarm in &alarms {
        let p = props(&t, alarm);
        if p["Metrics"].is_array() {
            // The model's own alarm (metric math): checked in its own test.
            metrics.insert(alarm.to_string());
            continue;
        }
        metrics.insert(format!(
            "{}/{}",
            p["Namespace"].as_str().unwrap(),
            p["MetricName"].as_str().unwrap()
        ));
        if p["Namespace"] == "AWS/Lambda" {
            // The new version's own metrics, not the whole function's.
            let dimension = |name: &str| {
                p["Dimensions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|d| d["Name"] == name)
                    .map(|d| d["Value"].clone())
            };
            assert_eq!(
                dimension("ExecutedVersion"),
                Some(json!({ "Fn::GetAtt": [version, "Version"] })),
                "{alarm}"
            );
            assert_eq!(
                dimension("FunctionName"),
                Some(json!({ "Ref": "PredictFunction" }))
            );
        }
    }
    assert_eq!(
        metrics,
        BTreeSet::from([
            "AWS/ApiGateway/5xx".to_owned(),
            "AWS/Lambda/Duration".to_owned(),
            "AWS/Lambda/Errors".to_owned(),
            "PredictOutsideTrainingAlarm".to_owned(),
        ])
    );
    let latency = alarms
        .iter()
        .map(|a| props(&t, a))
        .find(|p| p["MetricName"] == "Duration")
        .unwrap();
    assert_eq!(latency["ExtendedStatistic"], "p99");

    // The API calls the alias, never $LATEST, on every route.
    let body = &props(&t, "PredictApi")["Body"];
    let mut routes = BTreeSet::new();
    for (path, methods) in body["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            let integration = &op["x-amazon-apigateway-integration"];
            assert!(refers_to(&integration["uri"], alias_id), "{method} {path}");
            assert_eq!(integration["payloadFormatVersion"], "2.0");
            routes.insert(format!("{method} {path}"));
        }
    }
    assert_eq!(
        routes,
        BTreeSet::from(
            [
                "get /predict/{product_id}",
                "post /predict",
                "post /outcomes",
                "get /predictions/{product_id}",
                "get /health",
                "x-amazon-apigateway-any-method $default",
            ]
            .map(String::from)
        )
    );
}

#[test]
fn the_canary_also_rolls_back_a_model_whose_rows_leave_its_training_data() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let (_, alias) = of_function(&t, "AWS::Lambda::Alias", "PredictFunction");
    let group_ref = &alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"];
    let group = props(&t, group_ref["Ref"].as_str().unwrap());
    assert!(group["AlarmConfiguration"]["Alarms"]
        .as_array()
        .unwrap()
        .contains(&json!({ "Name": { "Ref": "PredictOutsideTrainingAlarm" } })));
    // The share the metrics test drives over the threshold: the function's own counts.
    let alarm = props(&t, "PredictOutsideTrainingAlarm");
    let metrics = alarm["Metrics"].as_array().unwrap();
    let stat = |id: &str| &metrics.iter().find(|m| m["Id"] == id).unwrap()["MetricStat"];
    use predict::telemetry::names;
    for (id, name) in [
        ("outside", names::ROWS_OUTSIDE_TRAINING),
        ("scored", names::ROWS_SCORED),
    ] {
        let s = stat(id);
        assert_eq!(s["Metric"]["MetricName"], name);
        assert_eq!(
            s["Metric"]["Namespace"],
            json!({ "Ref": "MetricsNamespace" })
        );
        // Across versions: exactly the dimension the function records it under.
        assert_eq!(
            s["Metric"]["Dimensions"],
            json!([{ "Name": aws_adapter::emf::FUNCTION_DIMENSION, "Value": { "Ref": "PredictFunction" } }])
        );
        assert_eq!(s["Stat"], "Sum");
    }
    let share = metrics.iter().find(|m| m["ReturnData"] == true).unwrap();
    assert_eq!(share["Expression"], "100 * FILL(outside, 0) / scored");
    assert_eq!(
        alarm["Threshold"],
        json!({ "Ref": "OutsideTrainingAlarmPercent" })
    );
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(alarm["TreatMissingData"], "notBreaching");
    assert_eq!(
        default_number(&t, "OutsideTrainingAlarmPercent"),
        predict::telemetry::CANARY_OUTSIDE_TRAINING_PERCENT
    );
    // Both functions write to the namespace the alarms read.
    for function in ["PredictFunction", "BatchFunction"] {
        assert_eq!(
            props(&t, function)["Environment"]["Variables"]["METRICS_NAMESPACE"],
            json!({ "Ref": "MetricsNamespace" })
        );
    }
    assert_eq!(
        t["Parameters"]["MetricsNamespace"]["Default"],
        aws_adapter::emf::DEFAULT_NAMESPACE
    );
}

#[test]
fn a_drifting_batch_run_sets_off_the_drift_alarm_and_the_dashboard_shows_each_metric() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let alarm = props(&t, "BatchDriftAlarm");
    assert_eq!(alarm["MetricName"], batch::telemetry::names::MAX_PSI);
    assert_eq!(alarm["Namespace"], json!({ "Ref": "MetricsNamespace" }));
    assert_eq!(
        alarm["Dimensions"],
        json!([{ "Name": "FunctionName", "Value": { "Ref": "BatchFunction" } }])
    );
    assert_eq!(alarm["Statistic"], "Maximum");
    assert_eq!(alarm["Threshold"], json!({ "Ref": "DriftPsiThreshold" }));
    assert_eq!(
        default_number(&t, "DriftPsiThreshold"),
        scoring::DRIFT_PSI_THRESHOLD
    );

    // The dashboard: valid JSON once substituted, with every metric the functions emit.
    let body = props(&t, "ModelDashboard")["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("one !Sub string")
        .to_owned();
    let mut substituted = String::new();
    let mut rest = body.as_str();
    while let Some(start) = rest.find("${") {
        let end = start + rest[start..].find('}').unwrap();
        substituted.push_str(&rest[..start]);
        let name = &rest[start + 2..end];
        substituted.push_str(
            if name.ends_with("Percent") || name.ends_with("Threshold") {
                "1"
            } else {
                "x"
            },
        );
        rest = &rest[end + 1..];
    }
    substituted.push_str(rest);
    let dashboard: Value = serde_json::from_str(&substituted).expect("the dashboard is JSON");
    let widgets = dashboard["widgets"].as_array().unwrap();
    let text = body.as_str();
    {
        use predict::telemetry::names::*;
        for metric in [
            REQUESTS,
            LATENCY,
            SCORE,
            PREDICTED_LABEL,
            ROWS_SCORED,
            ROWS_OUTSIDE_TRAINING,
            ROWS_FEATURE_OUT_OF_RANGE,
            SCORES_OUT_OF_RANGE,
        ] {
            assert!(text.contains(&format!("\"{metric}")), "predict's {metric}");
        }
    }
    {
        use batch::telemetry::names::*;
        for metric in [
            ROWS_SCANNED,
            ROWS_SCORED,
            ROWS_REJECTED,
            ROWS_WRITTEN,
            RETRIES,
            ROWS_PER_SECOND,
            RUN_DURATION,
            FEATURE_PSI,
            SCORE_PSI,
            LABEL_PSI,
            MAX_PSI,
        ] {
            assert!(
                text.contains(&format!("{metric}\\\"")) || text.contains(&format!("\"{metric}\"")),
                "batch's {metric}"
            );
        }
    }
    // The canary's state: every alarm the deployment watches, and the batch's.
    let alarms: Vec<&str> = widgets
        .iter()
        .filter(|w| w["type"] == "alarm")
        .flat_map(|w| w["properties"]["alarms"].as_array().unwrap())
        .map(|a| a.as_str().unwrap())
        .collect();
    // Every alarm of the template, the canary's and the batch's; not the optional ones (under
    // a Condition, tests/it/template/challenger.rs): the dashboard cannot name a resource
    // that may not exist.
    let every: Vec<&str> = of_type(&t, "AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|(_, alarm)| alarm.get("Condition").is_none())
        .map(|(id, _)| id)
        .collect();
    assert_eq!(alarms.len(), every.len());
    assert!(every.len() >= 6);
    for alarm in every {
        assert!(text.contains(&format!("${{{alarm}.Arn}}")), "{alarm}");
    }
}
