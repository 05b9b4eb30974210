//! `template.yaml` as code. aws-sam-translator (`tests/template/translate.py`, the
//! Serverless transform CloudFormation runs at deploy time) turns it into plain
//! CloudFormation, which these tests read, and deploy to moto's CloudFormation to see what
//! gets created. `cfn-lint`, `sam validate --lint` and `sam build` run from `make test`.
//!
//! moto emulates neither the HTTP API, the Lambda alias, CodeDeploy, CloudWatch alarms,
//! bucket or queue policies nor event-invoke configs (nor, on the resources it creates,
//! bucket versioning, public access blocks, table SSE and point-in-time recovery): those
//! are checked on the translated template.

#[path = "../functions/predict/tests/support/mod.rs"]
mod support;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aws_adapter::config::{BatchConfig, PredictConfig};
use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use e2e::{moto_or_skip, unique, venv_tool_or_skip};
use serde_json::{json, Value};
use testkit::{moto, resources, state_machine};

// ------------------------------------------------------------------ translation

fn repository() -> PathBuf {
    moto::repository_root()
}

/// `template` translated with `args` (`--code-uri s3://...`, `Name=Value` parameters).
fn translate_file(template: &Path, args: &[&str]) -> Value {
    let python = repository().join(".venv/bin/python");
    let out = Command::new(&python)
        .arg(repository().join("tests/template/translate.py"))
        .arg("--template")
        .arg(template)
        .args(args)
        .output()
        .expect("running translate.py");
    assert!(
        out.status.success(),
        "aws-sam-translator failed on {} {args:?}:\n{}",
        template.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("translate.py prints JSON")
}

fn translate(args: &[&str]) -> Value {
    translate_file(&repository().join("template.yaml"), args)
}

fn resource<'a>(t: &'a Value, id: &str) -> &'a Value {
    t["Resources"]
        .get(id)
        .unwrap_or_else(|| panic!("no resource {id} in the translated template"))
}

fn props<'a>(t: &'a Value, id: &str) -> &'a Value {
    &resource(t, id)["Properties"]
}

fn of_type<'a>(t: &'a Value, ty: &str) -> Vec<(&'a str, &'a Value)> {
    t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == ty)
        .map(|(id, r)| (id.as_str(), r))
        .collect()
}

/// The one resource of type `ty` whose `FunctionName` is `{"Ref": function}`.
fn of_function<'a>(t: &'a Value, ty: &str, function: &str) -> (&'a str, &'a Value) {
    let found: Vec<_> = of_type(t, ty)
        .into_iter()
        .filter(|(_, r)| r["Properties"]["FunctionName"] == json!({ "Ref": function }))
        .collect();
    assert_eq!(found.len(), 1, "one {ty} of {function}: {found:?}");
    found[0]
}

fn env_names(t: &Value, function: &str) -> BTreeSet<String> {
    props(t, function)["Environment"]["Variables"]
        .as_object()
        .unwrap_or_else(|| panic!("{function} has no Environment.Variables"))
        .keys()
        .cloned()
        .collect()
}

/// The template's parameter values: defaults, then `overrides`.
fn parameter_values(t: &Value, overrides: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = t["Parameters"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, p)| {
            let default = match &p["Default"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (name.clone(), default)
        })
        .collect();
    for (name, value) in overrides {
        values.insert((*name).to_owned(), (*value).to_owned());
    }
    values
}

/// `v` with template parameters replaced by their values, as CloudFormation sees a
/// property when it compares the old stack with the new one (`Ref` to a parameter and
/// `${Parameter}` in `Fn::Sub`; resource references stay as they are).
fn resolve_parameters(v: &Value, params: &BTreeMap<String, String>) -> Value {
    match v {
        Value::Object(o) => {
            if let (1, Some(Value::String(name))) = (o.len(), o.get("Ref")) {
                if let Some(value) = params.get(name) {
                    return Value::String(value.clone());
                }
            }
            if let (1, Some(Value::String(s))) = (o.len(), o.get("Fn::Sub")) {
                let mut s = s.clone();
                for (name, value) in params {
                    s = s.replace(&format!("${{{name}}}"), value);
                }
                return json!({ "Fn::Sub": s });
            }
            Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), resolve_parameters(x, params)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| resolve_parameters(x, params)).collect()),
        other => other.clone(),
    }
}

/// Every logical id `v` refers to (`Ref`, `Fn::GetAtt`, `${Id}` / `${Id.Attr}` in `Fn::Sub`).
fn references(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                match (k.as_str(), x) {
                    ("Ref", Value::String(id)) => {
                        out.insert(id.clone());
                    }
                    ("Fn::GetAtt", Value::Array(a)) => {
                        if let Some(Value::String(id)) = a.first() {
                            out.insert(id.clone());
                        }
                    }
                    ("Fn::Sub", _) => {
                        let s = x.as_str().or_else(|| x[0].as_str()).unwrap_or_default();
                        for part in s.split("${").skip(1) {
                            let name = part.split('}').next().unwrap_or_default();
                            out.insert(name.split('.').next().unwrap_or_default().to_owned());
                        }
                    }
                    _ => {}
                }
                references(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| references(x, out)),
        _ => {}
    }
}

fn refers_to(v: &Value, id: &str) -> bool {
    let mut out = BTreeSet::new();
    references(v, &mut out);
    out.contains(id)
}

// ------------------------------------------------------------------ the code's variables

/// The names `read` asks its lookup for, answering "1" to every one.
fn variables_read(read: impl FnOnce(&dyn Fn(&str) -> Option<String>)) -> BTreeSet<String> {
    let asked = RefCell::new(BTreeSet::new());
    read(&|name: &str| {
        asked.borrow_mut().insert(name.to_owned());
        Some("1".to_owned())
    });
    asked.into_inner()
}

const STAGE_SWITCH: &str = "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH";

#[test]
fn every_variable_the_code_reads_is_set_by_the_template_for_that_function() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let predict = variables_read(|lookup| {
        PredictConfig::from_lookup(lookup).expect("\"1\" for every variable is a valid config");
    });
    let batch = variables_read(|lookup| {
        BatchConfig::from_lookup(lookup).expect("\"1\" for every variable is a valid config");
    });
    assert!(predict.contains("MODEL_KEY") && batch.contains("PREDICTIONS_TABLE"));
    // The metrics' settings; the function's name is Lambda's own variable.
    let metrics = variables_read(|lookup| {
        aws_adapter::emf::Emf::settings(lookup, "local");
    });
    let (mut predict, mut batch) = (predict, batch);
    for name in metrics.iter().filter(|n| *n != "AWS_LAMBDA_FUNCTION_NAME") {
        predict.insert(name.clone());
        batch.insert(name.clone());
    }
    assert!(predict.contains("METRICS_NAMESPACE"));
    // lambda_http's own switch: route on the path without the API stage.
    predict.insert(STAGE_SWITCH.to_owned());
    assert_eq!(
        resource(&t, "PredictFunction")["Properties"]["Environment"]["Variables"][STAGE_SWITCH],
        "true"
    );
    for (function, read) in [("PredictFunction", predict), ("BatchFunction", batch)] {
        assert_eq!(
            env_names(&t, function),
            read,
            "{function}: the template's Environment.Variables (left) must be exactly what \
             the code reads (right)"
        );
    }
}

// ------------------------------------------------------------------ new versions

/// Would CloudFormation publish a new predict version going from `before` to `after`
/// (each a translated template and its parameter values)? A new `AWS::Lambda::Version`
/// logical id creates one; so does a change to a create-only property of the version,
/// which replaces it (the resource schema's createOnlyProperties).
fn publishes_a_new_version(
    before: (&Value, &BTreeMap<String, String>),
    after: (&Value, &BTreeMap<String, String>),
) -> bool {
    const CREATE_ONLY: [&str; 5] = [
        "FunctionName",
        "Description",
        "CodeSha256",
        "ProvisionedConcurrencyConfig",
        "RuntimePolicy",
    ];
    let (id_a, a) = of_function(before.0, "AWS::Lambda::Version", "PredictFunction");
    let (id_b, b) = of_function(after.0, "AWS::Lambda::Version", "PredictFunction");
    let (a, b) = (
        resolve_parameters(&a["Properties"], before.1),
        resolve_parameters(&b["Properties"], after.1),
    );
    id_a != id_b || CREATE_ONLY.iter().any(|p| a.get(p) != b.get(p))
}

fn translated_with(
    template: &Path,
    parameters: &[(&str, &str)],
) -> (Value, BTreeMap<String, String>) {
    let args: Vec<String> = parameters.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let t = translate_file(template, &args);
    let values = parameter_values(&t, parameters);
    (t, values)
}

#[test]
fn a_new_model_key_memory_size_architecture_or_model_name_publishes_a_new_predict_version() {
    venv_tool_or_skip!("python");
    let template = repository().join("template.yaml");
    let (base, base_values) = translated_with(&template, &[]);
    for change in [
        ("ModelKey", "wine-quality/v2/wine_quality.onnx"),
        ("MemorySize", "2048"),
        ("Architecture", "x86_64"),
        ("ModelName", "wine-quality-v2"),
    ] {
        let (t, values) = translated_with(&template, &[change]);
        assert!(
            publishes_a_new_version((&base, &base_values), (&t, &values)),
            "{}={} alone must publish a new predict version (and start the canary)",
            change.0,
            change.1
        );
    }
    let (same, same_values) = translated_with(&template, &[]);
    assert!(
        !publishes_a_new_version((&base, &base_values), (&same, &same_values)),
        "an unchanged deploy must not publish a version"
    );
}

/// Lambda refuses a version description over 256 characters: the longest values the
/// parameters allow must fit, and ModelName must allow no name the function refuses.
#[test]
fn the_longest_parameters_still_make_a_valid_version_description_and_model_name() {
    venv_tool_or_skip!("python");
    let template = repository().join("template.yaml");
    let (t, _) = translated_with(&template, &[]);
    let max = |name: &str| -> usize {
        t["Parameters"][name]["MaxLength"]
            .as_u64()
            .or_else(|| t["Parameters"][name]["MaxLength"].as_str()?.parse().ok())
            .unwrap_or_else(|| panic!("{name} has a MaxLength")) as usize
    };
    let (key, name) = ("k".repeat(max("ModelKey")), "n".repeat(max("ModelName")));
    let longest = [
        ("ModelKey", key.as_str()),
        ("ModelName", name.as_str()),
        ("MemorySize", "10240"),
        ("Architecture", "x86_64"),
    ];
    let values = parameter_values(&t, &longest);
    let (_, version) = of_function(&t, "AWS::Lambda::Version", "PredictFunction");
    let description = resolve_parameters(&version["Properties"]["Description"], &values);
    let description = description["Fn::Sub"]
        .as_str()
        .expect("a description with every parameter substituted");
    assert!(!description.contains("${"), "{description}");
    assert!(
        description.len() <= 256,
        "{} characters: {description}",
        description.len()
    );
    assert!(description.contains(&name) && description.contains(&key));
    // Every name the parameter allows is one the function accepts.
    let pattern = t["Parameters"]["ModelName"]["AllowedPattern"]
        .as_str()
        .unwrap();
    assert_eq!(pattern, "[A-Za-z0-9_.-]+");
    assert!(max("ModelName") <= aws_adapter::config::MAX_MODEL_NAME_CHARS);
    assert_eq!(aws_adapter::config::model_name_problem(&name), None);
    assert_eq!(
        t["Parameters"]["ModelName"]["Default"], "wine-quality",
        "the name the sample events and docs use"
    );
}

#[test]
fn new_code_still_publishes_a_new_predict_version() {
    venv_tool_or_skip!("python");
    let a = translate(&["--code-uri", "s3://code/build-a.zip"]);
    let b = translate(&["--code-uri", "s3://code/build-b.zip"]);
    let values = parameter_values(&a, &[]);
    assert!(publishes_a_new_version((&a, &values), (&b, &values)));
}

/// The gap `VersionDescription` closes (aws/serverless-application-model#1640, #3820):
/// without it, a new ModelKey translates to the very same version. If this fails after
/// upgrading aws-sam-translator, the translator hashes resolved parameter values now and
/// the workaround in template.yaml can go.
#[test]
fn without_the_version_description_a_new_model_key_would_not_publish() {
    venv_tool_or_skip!("python");
    let original = std::fs::read_to_string(repository().join("template.yaml")).unwrap();
    let stripped: String = original
        .lines()
        .filter(|l| !l.trim_start().starts_with("VersionDescription:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(
        stripped.len(),
        original.len(),
        "template.yaml sets VersionDescription"
    );
    let dir = std::env::temp_dir().join(unique("template"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("template.yaml");
    std::fs::write(&path, stripped).unwrap();
    let (a, a_values) = translated_with(&path, &[]);
    let (b, b_values) =
        translated_with(&path, &[("ModelKey", "wine-quality/v2/wine_quality.onnx")]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!publishes_a_new_version((&a, &a_values), (&b, &b_values)));
}

// ------------------------------------------------------------------ the canary and the API

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
                "get /predictions/{product_id}",
                "get /health",
                "x-amazon-apigateway-any-method $default",
            ]
            .map(String::from)
        )
    );
}

// ------------------------------------------------------------------ who can call the API

/// `v` as CloudFormation resolves it for the parameter values `params`: `Fn::If` on the
/// template's `Conditions` (the condition functions `Fn::Equals`, `Fn::Not`, `Fn::And`,
/// `Fn::Or`, `Condition`), `Ref` to a parameter, `Fn::Split`, and `Ref: AWS::NoValue`
/// removing the key or list item it is the value of (`None` if it is `v` itself). Other
/// intrinsics (references to resources, `Fn::Sub`, `Fn::GetAtt`) stay as written.
fn evaluate(v: &Value, t: &Value, params: &BTreeMap<String, String>) -> Option<Value> {
    let Value::Object(o) = v else {
        return Some(match v {
            Value::Array(a) => {
                Value::Array(a.iter().filter_map(|x| evaluate(x, t, params)).collect())
            }
            other => other.clone(),
        });
    };
    let args = |f: &str| -> Vec<Value> {
        o[f].as_array()
            .unwrap_or_else(|| panic!("{f} takes a list: {v}"))
            .clone()
    };
    let truth = |x: &Value| match evaluate(x, t, params) {
        Some(Value::Bool(b)) => b,
        other => panic!("not a condition: {x} (evaluates to {other:?})"),
    };
    if o.len() != 1 {
        return Some(Value::Object(
            o.iter()
                .filter_map(|(k, x)| Some((k.clone(), evaluate(x, t, params)?)))
                .collect(),
        ));
    }
    let (key, arg) = o.iter().next().unwrap();
    Some(match key.as_str() {
        "Ref" if arg == "AWS::NoValue" => return None,
        "Ref" => match params.get(arg.as_str().unwrap_or_default()) {
            Some(value) => Value::String(value.clone()),
            None => v.clone(),
        },
        "Condition" => {
            let name = arg.as_str().unwrap();
            let condition = t["Conditions"]
                .get(name)
                .unwrap_or_else(|| panic!("no condition {name}"));
            Value::Bool(truth(condition))
        }
        "Fn::If" => {
            let a = args(key);
            let chosen = if truth(&json!({ "Condition": a[0] })) {
                &a[1]
            } else {
                &a[2]
            };
            return evaluate(chosen, t, params);
        }
        "Fn::Equals" => {
            let a = args(key);
            Value::Bool(evaluate(&a[0], t, params) == evaluate(&a[1], t, params))
        }
        "Fn::Not" => Value::Bool(!truth(&args(key)[0])),
        "Fn::And" => Value::Bool(args(key).iter().all(truth)),
        "Fn::Or" => Value::Bool(args(key).iter().any(truth)),
        "Fn::Split" => {
            let a = args(key);
            match (&a[0], evaluate(&a[1], t, params)) {
                (Value::String(sep), Some(Value::String(s))) => {
                    s.split(sep.as_str()).map(|p| json!(p)).collect()
                }
                _ => v.clone(),
            }
        }
        _ => Value::Object(
            o.iter()
                .filter_map(|(k, x)| Some((k.clone(), evaluate(x, t, params)?)))
                .collect(),
        ),
    })
}

/// The descriptions of the template's rule assertions that fail for `params` (those of
/// rules whose `RuleCondition` holds): CloudFormation refuses such a stack.
fn refused_by_rules(t: &Value, params: &BTreeMap<String, String>) -> Vec<String> {
    let holds = |c: &Value| evaluate(c, t, params) == Some(Value::Bool(true));
    let mut refused = Vec::new();
    for rule in t["Rules"]
        .as_object()
        .map(|r| r.values())
        .into_iter()
        .flatten()
    {
        if rule.get("RuleCondition").is_some_and(|c| !holds(c)) {
            continue;
        }
        for assertion in rule["Assertions"].as_array().unwrap() {
            if !holds(&assertion["Assert"]) {
                refused.push(assertion["AssertDescription"].as_str().unwrap().to_owned());
            }
        }
    }
    refused
}

/// The predict API's OpenAPI body as CloudFormation resolves it for `params`.
fn api_body(t: &Value, params: &BTreeMap<String, String>) -> Value {
    evaluate(&props(t, "PredictApi")["Body"], t, params).unwrap()
}

struct Route {
    /// The security schemes the route requires (its `security`, looked up in the body's
    /// `components.securitySchemes`); empty if anyone may call it.
    schemes: Vec<Value>,
    integration_uri: Value,
}

/// Every route of the predict API (`"get /health"`, ...) for `params`.
fn predict_routes(t: &Value, params: &BTreeMap<String, String>) -> BTreeMap<String, Route> {
    let body = api_body(t, params);
    let defined = &body["components"]["securitySchemes"];
    let mut routes = BTreeMap::new();
    for (path, methods) in body["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            let route = format!("{method} {path}");
            let mut schemes = Vec::new();
            for requirement in op["security"].as_array().into_iter().flatten() {
                for (name, scopes) in requirement.as_object().unwrap() {
                    assert_eq!(scopes, &json!([]), "{route}: scopes of {name}");
                    let scheme = defined
                        .get(name)
                        .unwrap_or_else(|| panic!("{route} requires {name}, which is not defined"));
                    schemes.push(scheme.clone());
                }
            }
            let integration_uri = op["x-amazon-apigateway-integration"]["uri"].clone();
            routes.insert(
                route,
                Route {
                    schemes,
                    integration_uri,
                },
            );
        }
    }
    routes
}

/// The routes of the predict function's HttpApi events.
const PREDICT_ROUTES: [&str; 5] = [
    "get /predict/{product_id}",
    "post /predict",
    "get /predictions/{product_id}",
    "get /health",
    "x-amazon-apigateway-any-method $default",
];

/// `routes` are the predict function's, and each calls the `live` alias, as by default.
fn assert_routes_through_the_alias(t: &Value, routes: &BTreeMap<String, Route>) {
    let names: BTreeSet<&str> = routes.keys().map(String::as_str).collect();
    assert_eq!(names, BTreeSet::from(PREDICT_ROUTES));
    let (alias_id, _) = of_function(t, "AWS::Lambda::Alias", "PredictFunction");
    for (route, r) in routes {
        assert!(
            refers_to(&r.integration_uri, alias_id),
            "{route}: {}",
            r.integration_uri
        );
    }
}

const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example";

fn with_jwt() -> [(&'static str, &'static str); 3] {
    [
        ("ApiAuth", "JWT"),
        ("JwtIssuer", ISSUER),
        ("JwtAudience", "client-a,client-b"),
    ]
}

#[test]
fn by_default_every_predict_route_requires_aws_iam() {
    venv_tool_or_skip!("python");
    let (t, params) = translated_with(&repository().join("template.yaml"), &[]);
    assert_eq!(params["ApiAuth"], "IAM");
    let routes = predict_routes(&t, &params);
    assert_routes_through_the_alias(&t, &routes);
    let sigv4 = json!({
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "x-amazon-apigateway-authtype": "awsSigv4"
    });
    for (route, r) in &routes {
        assert_eq!(r.schemes, std::slice::from_ref(&sigv4), "{route}");
    }
    assert_eq!(
        api_body(&t, &params)["components"]["securitySchemes"]
            .as_object()
            .unwrap()
            .len(),
        1,
        "no authorizer but IAM"
    );
}

#[test]
fn with_jwt_every_predict_route_uses_a_jwt_authorizer_of_the_given_issuer_and_audience() {
    venv_tool_or_skip!("python");
    let (t, params) = translated_with(&repository().join("template.yaml"), &with_jwt());
    let routes = predict_routes(&t, &params);
    assert_routes_through_the_alias(&t, &routes);
    for (route, r) in &routes {
        assert_eq!(r.schemes.len(), 1, "{route}: {:?}", r.schemes);
        let scheme = &r.schemes[0];
        assert_eq!(scheme["type"], "oauth2", "{route}");
        assert_eq!(
            scheme["x-amazon-apigateway-authorizer"],
            json!({
                "type": "jwt",
                "identitySource": "$request.header.Authorization",
                "jwtConfiguration": { "issuer": ISSUER, "audience": ["client-a", "client-b"] }
            }),
            "{route}"
        );
    }
    assert!(refused_by_rules(&t, &params).is_empty());
}

#[test]
fn with_none_no_predict_route_has_an_authorizer() {
    venv_tool_or_skip!("python");
    let (t, params) = translated_with(&repository().join("template.yaml"), &[("ApiAuth", "NONE")]);
    let routes = predict_routes(&t, &params);
    assert_routes_through_the_alias(&t, &routes);
    for (route, r) in &routes {
        assert!(r.schemes.is_empty(), "{route}: {:?}", r.schemes);
    }
    let body = api_body(&t, &params);
    assert!(
        body.get("components").is_none(),
        "no authorizers: {}",
        body["components"]
    );
}

#[test]
fn jwt_without_an_issuer_or_an_audience_is_refused() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let refused =
        |overrides: &[(&str, &str)]| refused_by_rules(&t, &parameter_values(&t, overrides));
    let (issuer, audience) = (("JwtIssuer", ISSUER), ("JwtAudience", "client-a"));
    assert_eq!(refused(&[("ApiAuth", "JWT")]).len(), 2);
    let no_audience = refused(&[("ApiAuth", "JWT"), issuer]);
    assert!(
        no_audience.len() == 1 && no_audience[0].contains("JwtAudience"),
        "{no_audience:?}"
    );
    let no_issuer = refused(&[("ApiAuth", "JWT"), audience]);
    assert!(
        no_issuer.len() == 1 && no_issuer[0].contains("JwtIssuer"),
        "{no_issuer:?}"
    );
    assert_eq!(
        refused(&[("ApiAuth", "JWT"), issuer, audience]),
        Vec::<String>::new()
    );
    for choice in ["IAM", "NONE"] {
        assert_eq!(
            refused(&[("ApiAuth", choice)]),
            Vec::<String>::new(),
            "{choice}"
        );
    }
}

/// SAM's own `Auth` (which takes no intrinsic functions) writes, for each choice, exactly
/// the API body the template's conditional OpenAPI resolves to: the same routes,
/// integrations, security and authorizers.
#[test]
fn each_choice_resolves_to_the_api_sams_own_auth_would_write() {
    venv_tool_or_skip!("python");
    let original = std::fs::read_to_string(repository().join("template.yaml")).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    let api = lines
        .iter()
        .position(|l| *l == "  PredictApi:")
        .expect("PredictApi");
    let start = api
        + lines[api..]
            .iter()
            .position(|l| *l == "      DefinitionBody:")
            .expect("PredictApi's DefinitionBody");
    let end = start
        + 1
        + lines[start + 1..]
            .iter()
            .position(|l| !l.starts_with("       "))
            .unwrap();
    let with_sam_auth = |auth: &str| -> String {
        let mut out: Vec<&str> = lines[..start].to_vec();
        out.extend(auth.lines());
        out.extend(&lines[end..]);
        out.iter().map(|l| format!("{l}\n")).collect()
    };
    const IAM: &str = "      Auth:
        EnableIamAuthorizer: true
        DefaultAuthorizer: AWS_IAM";
    const JWT: &str = "      Auth:
        Authorizers:
          Jwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration:
              issuer: !Ref JwtIssuer
              audience: !Split [\",\", !Ref JwtAudience]
        DefaultAuthorizer: Jwt";
    let dir = std::env::temp_dir().join(unique("template"));
    std::fs::create_dir_all(&dir).unwrap();
    for (choice, parameters, auth) in [
        ("IAM", &[("ApiAuth", "IAM")][..], IAM),
        ("JWT", &with_jwt()[..], JWT),
        ("NONE", &[("ApiAuth", "NONE")][..], ""),
    ] {
        let path = dir.join(format!("{choice}.yaml"));
        std::fs::write(&path, with_sam_auth(auth)).unwrap();
        let (ours, ours_params) = translated_with(&repository().join("template.yaml"), parameters);
        let (sams, sams_params) = translated_with(&path, parameters);
        assert_eq!(
            api_body(&ours, &ours_params),
            api_body(&sams, &sams_params),
            "ApiAuth={choice}: the template's API (left), SAM's Auth (right)"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ------------------------------------------------------------------ least privilege

/// A role's inline statements as (actions, resources), the resources as written.
fn statements(t: &Value, role: &str) -> Vec<(BTreeSet<String>, Vec<Value>)> {
    let as_list = |v: &Value| match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    let p = props(t, role);
    assert!(
        p.get("ManagedPolicyArns").is_none(),
        "{role}: no managed policies"
    );
    p["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|policy| {
            policy["PolicyDocument"]["Statement"]
                .as_array()
                .unwrap()
                .clone()
        })
        .map(|s| {
            assert_eq!(s["Effect"], "Allow", "{role}: {s}");
            let actions = as_list(&s["Action"])
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect();
            (actions, as_list(&s["Resource"]))
        })
        .collect()
}

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
                ],
            ),
            ("s3:PutObject", &["${ModelBucket.Arn}/${RunsPrefix}*"]),
            ("dynamodb:Scan", &["AttributesTable"]),
            ("dynamodb:BatchWriteItem", &["PredictionsTable"]),
            ("dynamodb:PutItem", &["PredictionsTable"]),
            (
                "states:StartExecution",
                &["stateMachine:${AWS::StackName}-nightly"],
            ),
            ("s3:ListBucket", &["ModelBucket"]),
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

// ------------------------------------------------------------------ the nightly run

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

// ------------------------------------------------------------------ the rest, as written

#[test]
fn data_logs_and_the_batch_function_are_configured_as_documented() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    for table in ["AttributesTable", "PredictionsTable"] {
        let p = props(&t, table);
        assert_eq!(p["BillingMode"], "PAY_PER_REQUEST", "{table}");
        assert_eq!(p["SSESpecification"]["SSEEnabled"], true, "{table}");
        assert_eq!(
            p["KeySchema"],
            json!([{ "AttributeName": "product_id", "KeyType": "HASH" }])
        );
        assert_eq!(
            p["AttributeDefinitions"],
            json!([{ "AttributeName": "product_id", "AttributeType": "S" }])
        );
    }
    assert_eq!(
        props(&t, "PredictionsTable")["PointInTimeRecoverySpecification"]
            ["PointInTimeRecoveryEnabled"],
        true
    );
    // The night's writes: warmed from a parameter, capped by another, the cap no lower.
    let predictions = props(&t, "PredictionsTable");
    assert_eq!(
        predictions["WarmThroughput"]["WriteUnitsPerSecond"],
        json!({ "Ref": "PredictionsWarmWriteUnits" })
    );
    assert_eq!(
        predictions["OnDemandThroughput"]["MaxWriteRequestUnits"],
        json!({ "Ref": "PredictionsMaxWriteUnits" })
    );
    let default = |p: &str| t["Parameters"][p]["Default"].as_u64().unwrap();
    assert_eq!(
        default("PredictionsWarmWriteUnits"),
        4000,
        "a new table's own: no charge"
    );
    assert!(default("PredictionsMaxWriteUnits") >= default("PredictionsWarmWriteUnits"));
    // A failed night sets off the failure alarm, whether its planning or its execution
    // failed.
    let alarm = props(&t, "BatchFailedAlarm");
    let watched: BTreeSet<String> = alarm["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| {
            let metric = &m["MetricStat"]["Metric"];
            let target = &metric["Dimensions"][0]["Value"];
            let on = if refers_to(target, "NightlyRun") {
                "NightlyRun"
            } else if refers_to(target, "BatchFailureQueue") {
                "BatchFailureQueue"
            } else {
                "?"
            };
            Some(format!("{} {on}", metric["MetricName"].as_str()?))
        })
        .collect();
    assert_eq!(
        watched,
        BTreeSet::from(
            [
                "ApproximateNumberOfMessagesVisible BatchFailureQueue",
                "ExecutionsFailed NightlyRun",
                "ExecutionsTimedOut NightlyRun",
                "ExecutionsAborted NightlyRun",
            ]
            .map(str::to_owned)
        )
    );
    let sum = alarm["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["ReturnData"] == true)
        .unwrap();
    for id in ["queued", "failed", "timedout", "aborted"] {
        assert!(
            sum["Expression"]
                .as_str()
                .unwrap()
                .contains(&format!("FILL({id}, 0)")),
            "{id}"
        );
    }
    assert_eq!(alarm["Threshold"], 1);

    let bucket = props(&t, "ModelBucket");
    assert_eq!(bucket["VersioningConfiguration"]["Status"], "Enabled");
    assert_eq!(
        bucket["PublicAccessBlockConfiguration"],
        json!({ "BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true })
    );
    assert!(
        bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            ["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
            .is_string()
    );
    let policy = props(&t, "ModelBucketPolicy");
    assert_eq!(policy["Bucket"], json!({ "Ref": "ModelBucket" }));
    let tls_only = &policy["PolicyDocument"]["Statement"][0];
    assert_eq!(tls_only["Effect"], "Deny");
    assert_eq!(
        tls_only["Condition"]["Bool"]["aws:SecureTransport"],
        "false"
    );

    // Each function logs to its own log group, named as Lambda would, with retention.
    for (function, group) in [
        ("PredictFunction", "PredictLogGroup"),
        ("BatchFunction", "BatchLogGroup"),
    ] {
        let f = props(&t, function);
        assert_eq!(f["LoggingConfig"]["LogGroup"], json!({ "Ref": group }));
        assert_eq!(f["LoggingConfig"]["LogFormat"], "JSON");
        assert_eq!(f["Runtime"], "provided.al2023");
        assert_eq!(f["Handler"], "bootstrap");
        assert_eq!(f["Architectures"], json!([{ "Ref": "Architecture" }]));
        let name = f["FunctionName"]["Fn::Sub"].as_str().unwrap();
        let g = props(&t, group);
        assert_eq!(g["LogGroupName"]["Fn::Sub"], format!("/aws/lambda/{name}"));
        assert_eq!(g["RetentionInDays"], json!({ "Ref": "LogRetentionInDays" }));
    }
    let stage = of_type(&t, "AWS::ApiGatewayV2::Stage");
    assert_eq!(
        stage[0].1["Properties"]["AccessLogSettings"]["DestinationArn"],
        json!({ "Fn::GetAtt": ["ApiAccessLogGroup", "Arn"] })
    );

    let batch = props(&t, "BatchFunction");
    assert_eq!(batch["Timeout"], 900);
    let (_, invoke_config) = of_function(&t, "AWS::Lambda::EventInvokeConfig", "BatchFunction");
    let invoke_config = &invoke_config["Properties"];
    assert_eq!(invoke_config["MaximumRetryAttempts"], 2);
    assert_eq!(
        invoke_config["DestinationConfig"]["OnFailure"]["Destination"],
        json!({ "Fn::GetAtt": ["BatchFailureQueue", "Arn"] })
    );
    assert_eq!(props(&t, "BatchFailureQueue")["SqsManagedSseEnabled"], true);
    let rules = of_type(&t, "AWS::Events::Rule");
    assert_eq!(rules.len(), 1);
    let (rule_id, rule) = (rules[0].0, &rules[0].1["Properties"]);
    let (_, permission) = of_function(&t, "AWS::Lambda::Permission", "BatchFunction");
    assert_eq!(
        permission["Properties"]["Principal"],
        "events.amazonaws.com"
    );
    assert_eq!(
        permission["Properties"]["SourceArn"],
        json!({ "Fn::GetAtt": [rule_id, "Arn"] })
    );
    assert_eq!(
        rule["ScheduleExpression"],
        json!({ "Ref": "ScheduleExpression" })
    );
    assert_eq!(
        rule["Targets"][0]["Arn"],
        json!({ "Fn::GetAtt": ["BatchFunction", "Arn"] })
    );
    assert_eq!(
        t["Parameters"]["ScheduleExpression"]["Default"],
        "cron(0 2 * * ? *)"
    );
    assert_eq!(t["Parameters"]["Architecture"]["Default"], "arm64");

    let outputs: BTreeSet<&str> = t["Outputs"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for output in [
        "ApiUrl",
        "ModelBucketName",
        "AttributesTableName",
        "PredictionsTableName",
        "PredictFunctionName",
        "BatchFunctionName",
    ] {
        assert!(outputs.contains(output), "output {output}");
    }
}

// ------------------------------------------------------------------ deployed to moto

/// Resource types moto's CloudFormation does not create. They are left out of the
/// deployment, with whatever refers to them (the API's permissions on the alias).
const NOT_IN_MOTO: [&str; 10] = [
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Stage",
    "AWS::Lambda::Alias",
    "AWS::CodeDeploy::Application",
    "AWS::CodeDeploy::DeploymentGroup",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::Lambda::EventInvokeConfig",
];

/// `t` as moto can deploy it: without what moto cannot create (returns those logical ids),
/// and with Number parameters in Lambda environments given as strings, as CloudFormation
/// does (moto would store the number, which the Lambda API never returns).
fn for_moto(t: &mut Value) -> BTreeSet<String> {
    let numbers: BTreeSet<String> = t["Parameters"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, p)| p["Type"] == "Number")
        .map(|(name, _)| name.clone())
        .collect();
    for r in t["Resources"].as_object_mut().unwrap().values_mut() {
        if let Some(vars) = r["Properties"]["Environment"]["Variables"].as_object_mut() {
            for value in vars.values_mut() {
                if let Some(name) = value["Ref"].as_str().filter(|n| numbers.contains(*n)) {
                    *value = json!({ "Fn::Sub": format!("${{{name}}}") });
                }
            }
        }
    }
    let resources = t["Resources"].as_object_mut().unwrap();
    let mut out: BTreeSet<String> = resources
        .iter()
        .filter(|(_, r)| NOT_IN_MOTO.iter().any(|ty| r["Type"] == *ty))
        .map(|(id, _)| id.clone())
        .collect();
    loop {
        let dependents: Vec<String> = resources
            .iter()
            .filter(|(id, r)| !out.contains(*id) && out.iter().any(|o| refers_to(r, o)))
            .map(|(id, _)| id.clone())
            .collect();
        if dependents.is_empty() {
            break;
        }
        out.extend(dependents);
    }
    resources.retain(|id, _| !out.contains(id));
    let outputs = t["Outputs"].as_object_mut().unwrap();
    outputs.retain(|_, o| !out.iter().any(|id| refers_to(o, id)));
    out
}

struct Deployed {
    stack: String,
    /// Logical ids of the resources moto created; `physical` those with a physical id.
    created: BTreeSet<String>,
    physical: HashMap<String, String>,
    outputs: HashMap<String, String>,
    config: aws_adapter::aws_config::SdkConfig,
}

async fn deploy_to_moto(parameters: &[(&str, &str)]) -> Deployed {
    let config = moto::sdk_config(&e2e::endpoint()).await;
    let clients = e2e::clients().await;
    let code_bucket = unique("code");
    clients
        .s3
        .create_bucket()
        .bucket(&code_bucket)
        .send()
        .await
        .unwrap();
    // An empty zip: moto stores the code, it does not run it here.
    let empty_zip = [b"PK\x05\x06".as_slice(), &[0u8; 18]].concat();
    resources::put_object(&clients.s3, &code_bucket, "function.zip", empty_zip)
        .await
        .unwrap();

    let mut t = translate(&["--code-uri", &format!("s3://{code_bucket}/function.zip")]);
    let left_out = for_moto(&mut t);
    let expected_out: BTreeSet<String> = [
        "PredictApi",
        "PredictApiApiGatewayDefaultStage",
        "PredictFunctionAliaslive",
        "ServerlessDeploymentApplication",
        "PredictFunctionDeploymentGroup",
        "PredictNewVersionErrorsAlarm",
        "PredictNewVersionLatencyAlarm",
        "PredictApi5xxAlarm",
        "PredictOutsideTrainingAlarm",
        "BatchFailedAlarm",
        "BatchDriftAlarm",
        "ModelDashboard",
        "ModelBucketPolicy",
        "BatchFailureQueuePolicy",
        "BatchFunctionEventInvokeConfig",
        "PredictFunctionGetPredictionPermission",
        "PredictFunctionPostPredictionPermission",
        "PredictFunctionHealthPermission",
        "PredictFunctionGetStoredPredictionPermission",
        "PredictFunctionOtherPermission",
    ]
    .map(String::from)
    .into();
    assert_eq!(
        left_out, expected_out,
        "what the moto deployment leaves out"
    );

    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let stack = unique("tmpl");
    cfn.create_stack()
        .stack_name(&stack)
        .template_body(t.to_string())
        .capabilities(Capability::CapabilityIam)
        .set_parameters(Some(
            parameters
                .iter()
                .map(|(k, v)| {
                    Parameter::builder()
                        .parameter_key(*k)
                        .parameter_value(*v)
                        .build()
                })
                .collect(),
        ))
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "create_stack: {}",
                aws_sdk_cloudformation::error::DisplayErrorContext(e)
            )
        });
    let deadline = Instant::now() + Duration::from_secs(60);
    let description = loop {
        let described = cfn
            .describe_stacks()
            .stack_name(&stack)
            .send()
            .await
            .unwrap();
        let s = described.stacks()[0].clone();
        match s.stack_status() {
            Some(StackStatus::CreateInProgress) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Some(StackStatus::CreateComplete) => break s,
            other => panic!("stack {stack}: {other:?} {:?}", s.stack_status_reason()),
        }
    };
    let outputs = description
        .outputs()
        .iter()
        .map(|o| {
            (
                o.output_key().unwrap().to_owned(),
                o.output_value().unwrap().to_owned(),
            )
        })
        .collect();
    let resources = cfn
        .describe_stack_resources()
        .stack_name(&stack)
        .send()
        .await
        .unwrap();
    let created = resources
        .stack_resources()
        .iter()
        .filter_map(|r| r.logical_resource_id().map(str::to_owned))
        .collect();
    let physical = resources
        .stack_resources()
        .iter()
        .filter_map(|r| {
            Some((
                r.logical_resource_id()?.to_owned(),
                r.physical_resource_id()?.to_owned(),
            ))
        })
        .collect();
    Deployed {
        stack,
        created,
        physical,
        outputs,
        config,
    }
}

#[tokio::test]
async fn deployed_to_moto_the_stack_is_wired_to_its_own_resources() {
    venv_tool_or_skip!("python");
    moto_or_skip!();
    let model_key = "models/2026-11/wine_quality.onnx";
    let d = deploy_to_moto(&[("ModelKey", model_key), ("ScanSegments", "8")]).await;
    let name = |id: &str| {
        d.physical
            .get(id)
            .unwrap_or_else(|| panic!("{id} was not created: {:?}", d.physical))
            .clone()
    };
    let (bucket, attributes, predictions) = (
        name("ModelBucket"),
        name("AttributesTable"),
        name("PredictionsTable"),
    );
    let clients = e2e::clients().await;

    // Tables keyed by product_id (S), on demand.
    for table in [&attributes, &predictions] {
        let described = clients
            .dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap();
        let t = described.table().unwrap();
        let schema: Vec<String> = t
            .key_schema()
            .iter()
            .map(|k| format!("{} {}", k.attribute_name(), k.key_type().as_str()))
            .chain(
                t.attribute_definitions()
                    .iter()
                    .map(|a| format!("{} {}", a.attribute_name(), a.attribute_type().as_str())),
            )
            .collect();
        assert_eq!(schema, ["product_id HASH", "product_id S"], "{table}");
        assert_eq!(
            t.billing_mode_summary()
                .and_then(|b| b.billing_mode())
                .map(|m| m.as_str()),
            Some("PAY_PER_REQUEST")
        );
    }
    // The bucket, encrypted (moto applies no versioning or public access block from a
    // template: those are checked on the template).
    let encryption = clients
        .s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let rule = &encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "AES256"
    );

    // Each function's environment names this stack's resources.
    let lambda = aws_sdk_lambda::Client::new(&d.config);
    let env = |function: String| {
        let lambda = lambda.clone();
        async move {
            let c = lambda
                .get_function_configuration()
                .function_name(&function)
                .send()
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "{function}: {}",
                        aws_sdk_lambda::error::DisplayErrorContext(e)
                    )
                });
            assert_eq!(c.runtime().map(|r| r.as_str()), Some("provided.al2023"));
            assert_eq!(c.handler(), Some("bootstrap"));
            let vars: HashMap<String, String> = c
                .environment()
                .and_then(|e| e.variables())
                .cloned()
                .unwrap_or_default();
            (c.function_arn().unwrap().to_owned(), c.timeout(), vars)
        }
    };
    let (predict_fn, batch_fn) = (name("PredictFunction"), name("BatchFunction"));
    assert_eq!(predict_fn, format!("{}-predict", d.stack));
    assert_eq!(batch_fn, format!("{}-batch", d.stack));
    let (_, _, predict_env) = env(predict_fn.clone()).await;
    let (batch_arn, batch_timeout, batch_env) = env(batch_fn.clone()).await;
    assert_eq!(batch_timeout, Some(900));
    let expected_predict = HashMap::from([
        ("MODEL_BUCKET".to_owned(), bucket.clone()),
        ("MODEL_KEY".to_owned(), model_key.to_owned()),
        ("ATTRIBUTES_TABLE".to_owned(), attributes.clone()),
        ("PREDICTIONS_TABLE".to_owned(), predictions.clone()),
        ("RUNS_PREFIX".to_owned(), "batch-runs/".to_owned()),
        ("METRICS_NAMESPACE".to_owned(), "ModelServing".to_owned()),
    ]);
    let mut with_stage_switch = expected_predict.clone();
    with_stage_switch.insert(STAGE_SWITCH.to_owned(), "true".to_owned());
    with_stage_switch.insert("MODEL_NAME".to_owned(), "wine-quality".to_owned());
    assert_eq!(predict_env, with_stage_switch);
    let mut expected_batch = expected_predict.clone();
    expected_batch.extend([
        ("SCAN_SEGMENTS".to_owned(), "8".to_owned()),
        ("BATCH_WORKERS".to_owned(), "4".to_owned()),
        ("DEADLINE_MARGIN_SECONDS".to_owned(), "60".to_owned()),
        ("STATE_MACHINE_ARN".to_owned(), name("NightlyRun")),
    ]);
    assert_eq!(batch_env, expected_batch);
    // The state machine the function starts exists, with the stack's role, and invokes
    // this stack's batch function.
    let sfn = aws_adapter::aws_sdk_sfn::Client::new(&d.config);
    let machine = sfn
        .describe_state_machine()
        .state_machine_arn(name("NightlyRun"))
        .send()
        .await
        .unwrap();
    assert_eq!(machine.name(), format!("{}-nightly", d.stack));
    assert!(
        machine.role_arn().ends_with(&name("NightlyRunRole")),
        "{}",
        machine.role_arn()
    );
    let batch_config = BatchConfig::from_lookup(|n| batch_env.get(n).cloned()).unwrap();
    assert_eq!(
        (
            batch_config.scan_segments,
            batch_config.predictions_table.as_str()
        ),
        (8, predictions.as_str())
    );

    // The outputs name the same resources.
    for (output, value) in [
        ("ModelBucketName", &bucket),
        ("AttributesTableName", &attributes),
        ("PredictionsTableName", &predictions),
        ("PredictFunctionName", &predict_fn),
        ("BatchFunctionName", &batch_fn),
    ] {
        assert_eq!(d.outputs.get(output), Some(value), "output {output}");
    }

    // The nightly rule targets the batch function, which lets EventBridge invoke it.
    let rule = name("BatchFunctionNightly");
    let events = aws_sdk_eventbridge::Client::new(&d.config);
    let described = events.describe_rule().name(&rule).send().await.unwrap();
    assert_eq!(described.schedule_expression(), Some("cron(0 2 * * ? *)"));
    let targets = events
        .list_targets_by_rule()
        .rule(&rule)
        .send()
        .await
        .unwrap();
    let target_arns: Vec<&str> = targets.targets().iter().map(|t| t.arn()).collect();
    assert_eq!(target_arns, [batch_arn.as_str()]);
    // The permission that lets EventBridge invoke it was created (moto's GetPolicy fails
    // on permissions made by CloudFormation: its properties are checked on the template).
    assert!(d.created.contains("BatchFunctionNightlyPermission"));

    // And the predict function, configured from its deployed environment, serves from
    // this stack's bucket (the model uploaded at ModelKey) and table.
    resources::put_object(&clients.s3, &bucket, model_key, support::demo_model_bytes())
        .await
        .unwrap();
    // The README's loader for a deployed stack (`devstack load-wines <table>`).
    let loaded = testkit::stack::load_wines(&clients.dynamodb, &attributes, |_, _| {})
        .await
        .unwrap();
    assert_eq!(loaded, 1599);
    let config = PredictConfig::from_lookup(|n| predict_env.get(n).cloned()).unwrap();
    let function_clients = aws_adapter::AwsClients::new(&d.config, aws_adapter::CallPolicy::ONLINE);
    let app = predict::init_with(&config, &function_clients)
        .await
        .unwrap();
    let response = app.handle(support::request("predict-get.json")).await;
    assert_eq!(response.status().as_u16(), 200, "{:?}", response.body());
    assert_eq!(support::json_body(&response)["product_id"], "wine-0001");
}

/// The functions' timeouts leave room for their own answers: a call of the online policy
/// gives up well before the predict function's timeout (so a stalled DynamoDB is its JSON
/// 503), and the batch stops reading a margin before its deadline that outlasts a call.
#[test]
fn function_timeouts_agree_with_the_call_timeouts() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let timeout = |id: &str| Duration::from_secs(props(&t, id)["Timeout"].as_u64().unwrap());
    let (predict, batch) = (timeout("PredictFunction"), timeout("BatchFunction"));
    let online = aws_adapter::CallPolicy::ONLINE;
    assert!(online.operation_timeout * 2 <= predict, "{predict:?}");
    assert!(online.attempt_timeout < online.operation_timeout);
    let offline = aws_adapter::CallPolicy::BATCH;
    assert_eq!(
        props(&t, "BatchFunction")["Environment"]["Variables"]["DEADLINE_MARGIN_SECONDS"],
        json!({ "Fn::FindInMap": ["Batch", "Settings", "DeadlineMarginSeconds"] })
    );
    let margin = t["Mappings"]["Batch"]["Settings"]["DeadlineMarginSeconds"]
        .as_str()
        .map(|s| Duration::from_secs(s.parse().unwrap()))
        .unwrap();
    assert!(offline.attempt_timeout < margin, "{margin:?}");
    assert!(margin * 2 <= batch, "{batch:?}");
}

// ------------------------------------------------------------------ watching the model

/// The template parameter `name`'s default.
fn default_of(t: &Value, name: &str) -> f64 {
    let d = &t["Parameters"][name]["Default"];
    d.as_f64()
        .or_else(|| d.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("{name} has no numeric default"))
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
        default_of(&t, "OutsideTrainingAlarmPercent"),
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
        default_of(&t, "DriftPsiThreshold"),
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
    // Every alarm of the template, the canary's and the batch's.
    let every: Vec<&str> = of_type(&t, "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(alarms.len(), every.len());
    assert!(every.len() >= 6);
    for alarm in every {
        assert!(text.contains(&format!("${{{alarm}.Arn}}")), "{alarm}");
    }
}
