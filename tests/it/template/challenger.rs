//! The challenger in the template: its key reaches both functions, which may read exactly
//! that object and only when there is one; the optional disagreement alarm, which never
//! rolls back the canary; and the dashboard's comparison widgets, on the metric names the
//! functions record (issue 24's contract). When a new challenger publishes a new predict
//! version: versions.rs.

use std::collections::BTreeSet;

use aws_adapter::config::{BatchConfig, PredictConfig};
use e2e::venv_tool_or_skip;
use serde_json::{json, Value};
use testkit::cloudformation::{
    evaluate, of_function, parameter_values, props, resolve_parameters, statements_with, translate,
    Parameters,
};

use predict::telemetry::names::{CHALLENGER_LABELS_DISAGREED, CHALLENGER_ROWS_COMPARED};

const KEY: &str = "wine-quality/challenger/wine_quality_white.onnx";

/// The online comparison's metrics, per pair of versions (ChampionVersion,
/// ChallengerVersion), as the predict function names them.
const ONLINE: [&str; 7] = {
    use predict::telemetry::names::*;
    [
        CHALLENGER_ROWS_SCORED,
        CHALLENGER_ROWS_COMPARED,
        CHALLENGER_LABELS_DISAGREED,
        CHALLENGER_ERRORS,
        CHALLENGER_ABS_DIFFERENCE,
        CHALLENGER_SCORE,
        CHALLENGER_PREDICTED_LABEL,
    ]
};
/// The nightly comparison's, per pair of versions, recorded when a run completes.
const NIGHTLY: [&str; 6] = {
    use batch::telemetry::names::*;
    [
        CHALLENGER_ROWS_COMPARED,
        CHALLENGER_ERRORS,
        CHALLENGER_AGREEMENT,
        CHALLENGER_MEAN_ABS_DIFFERENCE,
        CHALLENGER_P99_ABS_DIFFERENCE,
        CHALLENGER_PSI,
    ]
};
/// At cold start, by either function, per champion version.
const LOAD_FAILED: &str = predict::telemetry::names::CHALLENGER_LOAD_FAILED;

fn holds(t: &Value, condition: &str, params: &Parameters) -> bool {
    evaluate(&json!({ "Condition": condition }), t, params) == Some(Value::Bool(true))
}

#[test]
fn the_challenger_key_reaches_both_functions_and_empty_means_none() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let parameter = &t["Parameters"]["ChallengerModelKey"];
    assert_eq!(parameter["Default"], "", "no challenger unless asked for");
    assert_eq!(
        parameter["MaxLength"], t["Parameters"]["ModelKey"]["MaxLength"],
        "a challenger is promoted to ModelKey, and the champion demoted to challenger"
    );
    for function in ["PredictFunction", "BatchFunction"] {
        assert_eq!(
            props(&t, function)["Environment"]["Variables"]["CHALLENGER_MODEL_KEY"],
            json!({ "Ref": "ChallengerModelKey" }),
            "{function}"
        );
    }
    // The default is read as no challenger by both, a key as one in the model's bucket.
    let with = |key: &'static str| {
        move |name: &str| match name {
            "CHALLENGER_MODEL_KEY" => Some(key.to_owned()),
            "MODEL_BUCKET" => Some("models".to_owned()),
            _ => Some("1".to_owned()),
        }
    };
    assert_eq!(
        PredictConfig::from_lookup(with("")).unwrap().challenger,
        None
    );
    assert_eq!(BatchConfig::from_lookup(with("")).unwrap().challenger, None);
    for challenger in [
        PredictConfig::from_lookup(with(KEY)).unwrap().challenger,
        BatchConfig::from_lookup(with(KEY)).unwrap().challenger,
    ] {
        let challenger = challenger.expect("a challenger");
        assert_eq!(
            (challenger.bucket.as_str(), challenger.key.as_str()),
            ("models", KEY)
        );
    }
}

#[test]
fn each_function_may_read_the_challenger_only_when_there_is_one_and_only_that_object() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let none = parameter_values(&t, &[]);
    let one = parameter_values(&t, &[("ChallengerModelKey", KEY)]);
    assert!(!holds(&t, "HasChallenger", &none));
    assert!(holds(&t, "HasChallenger", &one));
    for role in ["PredictFunctionRole", "BatchFunctionRole"] {
        let without = statements_with(&t, role, &none);
        let with = statements_with(&t, role, &one);
        let mentions = |statements: &[(BTreeSet<String>, Vec<Value>)]| -> Vec<Value> {
            statements
                .iter()
                .flat_map(|(actions, resources)| {
                    resources
                        .iter()
                        .filter(|r| r.to_string().contains("ChallengerModelKey"))
                        .map(move |r| json!({ "actions": actions, "resource": r }))
                })
                .collect()
        };
        // Without a key nothing names it (an empty key would grant `<bucket ARN>/`).
        assert_eq!(mentions(&without), Vec::<Value>::new(), "{role}");
        // With one: GetObject on exactly that object, and nothing else new.
        let granted = mentions(&with);
        assert_eq!(
            granted,
            [json!({
                "actions": ["s3:GetObject"],
                "resource": { "Fn::Sub": "${ModelBucket.Arn}/${ChallengerModelKey}" },
            })],
            "{role}"
        );
        assert_eq!(
            resolve_parameters(&granted[0]["resource"], &one),
            json!({ "Fn::Sub": format!("${{ModelBucket.Arn}}/{KEY}") })
        );
        assert_eq!(with.len(), without.len() + 1, "{role}: one statement more");
        let actions = |s: &[(BTreeSet<String>, Vec<Value>)]| -> BTreeSet<String> {
            s.iter().flat_map(|(a, _)| a.iter().cloned()).collect()
        };
        assert_eq!(actions(&with), actions(&without), "{role}: no new action");
    }
    // The key may hold no IAM wildcard, as ModelKey.
    assert_eq!(
        t["Parameters"]["ChallengerModelKey"]["AllowedPattern"],
        "[^*?]*"
    );
}

#[test]
fn the_disagreement_alarm_exists_only_when_asked_for_and_never_rolls_back_the_canary() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let alarm = &t["Resources"]["ChallengerDisagreementAlarm"];
    assert_eq!(alarm["Condition"], "HasChallengerDisagreementAlarm");
    assert_eq!(
        t["Parameters"]["ChallengerDisagreementAlarmPercent"]["Default"],
        ""
    );
    for (overrides, exists) in [
        (&[][..], false),
        (&[("ChallengerModelKey", KEY)][..], false),
        (&[("ChallengerDisagreementAlarmPercent", "5")][..], false),
        (
            &[
                ("ChallengerModelKey", KEY),
                ("ChallengerDisagreementAlarmPercent", "5"),
            ][..],
            true,
        ),
    ] {
        let params = parameter_values(&t, overrides);
        assert_eq!(
            holds(&t, "HasChallengerDisagreementAlarm", &params),
            exists,
            "{overrides:?}"
        );
    }
    // The share of compared rows whose labels differ, on the counts the predict function
    // records with FunctionName only (whichever versions are deployed).
    let p = &alarm["Properties"];
    let metrics = p["Metrics"].as_array().unwrap();
    let stat = |id: &str| &metrics.iter().find(|m| m["Id"] == id).unwrap()["MetricStat"];
    for (id, name) in [
        ("disagreed", CHALLENGER_LABELS_DISAGREED),
        ("compared", CHALLENGER_ROWS_COMPARED),
    ] {
        let s = stat(id);
        assert_eq!(s["Metric"]["MetricName"], name);
        assert_eq!(
            s["Metric"]["Namespace"],
            json!({ "Ref": "MetricsNamespace" })
        );
        assert_eq!(
            s["Metric"]["Dimensions"],
            json!([{ "Name": aws_adapter::emf::FUNCTION_DIMENSION, "Value": { "Ref": "PredictFunction" } }])
        );
        assert_eq!(s["Stat"], "Sum");
    }
    let share = metrics.iter().find(|m| m["ReturnData"] == true).unwrap();
    assert_eq!(share["Expression"], "100 * FILL(disagreed, 0) / compared");
    assert_eq!(
        p["Threshold"],
        json!({ "Ref": "ChallengerDisagreementAlarmPercent" })
    );
    assert_eq!(p["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(p["TreatMissingData"], "notBreaching");

    // Not one of the canary's: a disagreeing challenger must not roll back the champion.
    let (_, alias) = of_function(&t, "AWS::Lambda::Alias", "PredictFunction");
    let group_ref = &alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"];
    let group = props(&t, group_ref["Ref"].as_str().unwrap());
    let canary = group["AlarmConfiguration"]["Alarms"].to_string();
    assert!(canary.contains("PredictOutsideTrainingAlarm"), "{canary}");
    assert!(!canary.contains("ChallengerDisagreementAlarm"), "{canary}");
}

/// Every string of `v` (keys excluded).
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[test]
fn the_dashboard_compares_champion_and_challenger_on_every_metric_of_the_contract() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let body = props(&t, "ModelDashboard")["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("one !Sub string");
    // The dashboard exists with or without a challenger: it may name neither the optional
    // alarm nor its (possibly empty) threshold.
    assert!(!body.contains("ChallengerDisagreementAlarm"));
    // Substituted, each function by a name of its own.
    let mut text = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        let end = start + rest[start..].find('}').unwrap();
        text.push_str(&rest[..start]);
        text.push_str(match &rest[start + 2..end] {
            "PredictFunction" => "PREDICT",
            "BatchFunction" => "BATCH",
            "MetricsNamespace" => "NS",
            n if n.ends_with("Percent") || n.ends_with("Threshold") => "1",
            _ => "x",
        });
        rest = &rest[end + 1..];
    }
    text.push_str(rest);
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let widgets = dashboard["widgets"].as_array().unwrap();

    // Where each metric is shown: (function, metric) -> how (a SEARCH's schema, or "metric"
    // for a metric named with FunctionName alone).
    let mut shown: BTreeSet<(String, String, String)> = BTreeSet::new();
    for w in widgets {
        let mut all = Vec::new();
        strings(&w["properties"]["metrics"], &mut all);
        for s in &all {
            let function = if s.contains("FunctionName=\"PREDICT\"") {
                "PREDICT"
            } else {
                "BATCH"
            };
            if let Some(schema) = s.strip_prefix("SEARCH('{") {
                let schema = schema.split('}').next().unwrap();
                for part in s.split("MetricName=\"").skip(1) {
                    let metric = part.split('"').next().unwrap();
                    shown.insert((function.into(), metric.into(), schema.into()));
                }
            }
        }
        for m in w["properties"]["metrics"].as_array().into_iter().flatten() {
            // ["NS", "<metric>", "FunctionName", "<function>", {...}]
            if m[0] == "NS" {
                assert_eq!(m[2], "FunctionName", "{m}");
                let (metric, function) = (m[1].as_str().unwrap(), m[3].as_str().unwrap());
                shown.insert((function.into(), metric.into(), "metric".into()));
            }
        }
    }
    // The dimensions the functions record them under (FunctionName added to each).
    use predict::telemetry::{CHALLENGER_VERSION, CHAMPION_VERSION};
    let function = aws_adapter::emf::FUNCTION_DIMENSION;
    let champion = format!("NS,{function},{CHAMPION_VERSION}");
    let pair = format!("{champion},{CHALLENGER_VERSION}");
    let pair = pair.as_str();
    let has = |function: &str, metric: &str, how: &str| {
        shown.contains(&(function.to_owned(), metric.to_owned(), how.to_owned()))
    };
    for metric in ONLINE {
        let how = if metric == predict::telemetry::names::CHALLENGER_PREDICTED_LABEL {
            format!("{pair},Label")
        } else {
            pair.to_owned()
        };
        assert!(
            has("PREDICT", metric, &how),
            "online {metric} per pair: {shown:#?}"
        );
    }
    for metric in NIGHTLY {
        assert!(
            has("BATCH", metric, pair),
            "nightly {metric} per pair: {shown:#?}"
        );
    }
    for function in ["PREDICT", "BATCH"] {
        assert!(
            has(function, LOAD_FAILED, &champion),
            "{function}'s {LOAD_FAILED}"
        );
    }
    // Online label agreement across versions: the counts recorded with FunctionName alone.
    for metric in [CHALLENGER_LABELS_DISAGREED, CHALLENGER_ROWS_COMPARED] {
        assert!(has("PREDICT", metric, "metric"), "{metric}");
    }
    assert_eq!(
        LOAD_FAILED,
        batch::telemetry::names::CHALLENGER_LOAD_FAILED,
        "one name for both functions"
    );
    // Nothing else is read with FunctionName alone (none is recorded so but these, the
    // nightly PSI, and the metrics from before the challenger).
    for (function, metric, how) in &shown {
        if metric.starts_with("Challenger") && how == "metric" {
            assert!(
                (function == "PREDICT"
                    && [CHALLENGER_LABELS_DISAGREED, CHALLENGER_ROWS_COMPARED]
                        .contains(&metric.as_str()))
                    || (function == "BATCH" && metric == batch::telemetry::names::CHALLENGER_PSI),
                "{function} {metric} with FunctionName alone"
            );
        }
    }
    // The champion's own answers beside the challenger's.
    assert!(has("PREDICT", "Score", "NS,FunctionName,ModelVersion"));
    assert!(has(
        "PREDICT",
        "PredictedLabel",
        "NS,FunctionName,ModelVersion,Label"
    ));

    // Widgets do not overlap (the dashboard grid is 24 wide).
    let boxes: Vec<(u64, u64, u64, u64)> = widgets
        .iter()
        .map(|w| {
            let n = |k: &str| w[k].as_u64().unwrap_or_else(|| panic!("{k} of {w}"));
            (n("x"), n("y"), n("width"), n("height"))
        })
        .collect();
    for (i, a) in boxes.iter().enumerate() {
        assert!(a.0 + a.2 <= 24, "{a:?}");
        for b in &boxes[i + 1..] {
            let apart =
                a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0 || a.1 + a.3 <= b.1 || b.1 + b.3 <= a.1;
            assert!(apart, "widgets {a:?} and {b:?} overlap");
        }
    }
}
