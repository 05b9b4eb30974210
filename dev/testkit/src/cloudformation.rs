//! `template.yaml` as CloudFormation reads it: translated by aws-sam-translator
//! (`tests/template/translate.py`, the Serverless transform CloudFormation runs at deploy
//! time) into plain CloudFormation JSON, and the few intrinsic functions CloudFormation
//! resolves before it compares or creates anything (`Ref` to a parameter, `Fn::If` on the
//! template's conditions, `Fn::Split`, `AWS::NoValue`, the rules' assertions).
//!
//! The lookups panic with the missing id: they serve tests, where that is the failure.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

use crate::moto::repository_root;

/// A template's parameter values by name.
pub type Parameters = BTreeMap<String, String>;

/// The project's SAM template.
pub fn template_path() -> PathBuf {
    repository_root().join("template.yaml")
}

/// `template` translated with `args` (`--code-uri s3://...`, `Name=Value` parameters), by
/// the venv's aws-sam-translator; once per process for each template and arguments: each
/// translation is a Python process of a second or more, and the tests ask for the same
/// few many times. (Tests write changed templates to paths of their own.)
pub fn translate_file(template: &Path, args: &[&str]) -> Value {
    type Key = (PathBuf, Vec<String>);
    static DONE: OnceLock<Mutex<HashMap<Key, Value>>> = OnceLock::new();
    let key = (
        template.to_owned(),
        args.iter().map(|a| (*a).to_owned()).collect(),
    );
    let done = DONE.get_or_init(Default::default);
    if let Some(t) = done.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return t.clone();
    }
    let t = translate_file_again(template, args);
    done.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, t.clone());
    t
}

/// [`translate_file`] without the process's memory: a translation of its own, for a test
/// that compares two runs of the translator.
pub fn translate_file_again(template: &Path, args: &[&str]) -> Value {
    let python = repository_root().join(".venv/bin/python");
    let out = Command::new(&python)
        .arg(repository_root().join("tests/template/translate.py"))
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

/// The project's template translated with `args`.
pub fn translate(args: &[&str]) -> Value {
    translate_file(&template_path(), args)
}

/// `template` translated with `parameters`, and the parameter values it then has.
pub fn translated_with(template: &Path, parameters: &[(&str, &str)]) -> (Value, Parameters) {
    let args: Vec<String> = parameters.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let t = translate_file(template, &args);
    let values = parameter_values(&t, parameters);
    (t, values)
}

pub fn resource<'a>(t: &'a Value, id: &str) -> &'a Value {
    t["Resources"]
        .get(id)
        .unwrap_or_else(|| panic!("no resource {id} in the translated template"))
}

pub fn props<'a>(t: &'a Value, id: &str) -> &'a Value {
    &resource(t, id)["Properties"]
}

/// Every resource of type `ty`, as (logical id, resource).
pub fn of_type<'a>(t: &'a Value, ty: &str) -> Vec<(&'a str, &'a Value)> {
    t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == ty)
        .map(|(id, r)| (id.as_str(), r))
        .collect()
}

/// The one resource of type `ty` whose `FunctionName` is `{"Ref": function}`.
pub fn of_function<'a>(t: &'a Value, ty: &str, function: &str) -> (&'a str, &'a Value) {
    let found: Vec<_> = of_type(t, ty)
        .into_iter()
        .filter(|(_, r)| r["Properties"]["FunctionName"] == json!({ "Ref": function }))
        .collect();
    assert_eq!(found.len(), 1, "one {ty} of {function}: {found:?}");
    found[0]
}

/// The names of a function's environment variables.
pub fn env_names(t: &Value, function: &str) -> BTreeSet<String> {
    props(t, function)["Environment"]["Variables"]
        .as_object()
        .unwrap_or_else(|| panic!("{function} has no Environment.Variables"))
        .keys()
        .cloned()
        .collect()
}

/// The template parameter `name`'s default, as a number.
pub fn default_number(t: &Value, name: &str) -> f64 {
    let d = &t["Parameters"][name]["Default"];
    d.as_f64()
        .or_else(|| d.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("{name} has no numeric default"))
}

/// The template's parameter values: defaults, then `overrides`.
pub fn parameter_values(t: &Value, overrides: &[(&str, &str)]) -> Parameters {
    let mut values: Parameters = t["Parameters"]
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
pub fn resolve_parameters(v: &Value, params: &Parameters) -> Value {
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
pub fn references(v: &Value, out: &mut BTreeSet<String>) {
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

pub fn refers_to(v: &Value, id: &str) -> bool {
    let mut out = BTreeSet::new();
    references(v, &mut out);
    out.contains(id)
}

/// `v` as CloudFormation resolves it for the parameter values `params`: `Fn::If` on the
/// template's `Conditions` (the condition functions `Fn::Equals`, `Fn::Not`, `Fn::And`,
/// `Fn::Or`, `Condition`), `Ref` to a parameter, `Fn::Split`, and `Ref: AWS::NoValue`
/// removing the key or list item it is the value of (`None` if it is `v` itself). Other
/// intrinsics (references to resources, `Fn::Sub`, `Fn::GetAtt`) stay as written.
pub fn evaluate(v: &Value, t: &Value, params: &Parameters) -> Option<Value> {
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
pub fn refused_by_rules(t: &Value, params: &Parameters) -> Vec<String> {
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

/// A role's inline statements as (actions, resources), the resources as written, for the
/// parameters' defaults (statements under a condition: [`statements_with`]). Every
/// statement must allow (none denies) and the role has no managed policies.
pub fn statements(t: &Value, role: &str) -> Vec<(BTreeSet<String>, Vec<Value>)> {
    statements_with(t, role, &parameter_values(t, &[]))
}

/// [`statements`] for the parameter values `params`: the policies' `Fn::If` resolved (a
/// statement that is `AWS::NoValue` for them is left out).
pub fn statements_with(
    t: &Value,
    role: &str,
    params: &Parameters,
) -> Vec<(BTreeSet<String>, Vec<Value>)> {
    let as_list = |v: &Value| match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    let p = props(t, role);
    assert!(
        p.get("ManagedPolicyArns").is_none(),
        "{role}: no managed policies"
    );
    let p = evaluate(p, t, params).unwrap_or_else(|| panic!("{role} has no properties"));
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

/// The names `read` asks its lookup for, answering "1" to every one: which environment
/// variables a configuration reader (`from_lookup`) reads.
pub fn variables_read(read: impl FnOnce(&dyn Fn(&str) -> Option<String>)) -> BTreeSet<String> {
    let asked = RefCell::new(BTreeSet::new());
    read(&|name: &str| {
        asked.borrow_mut().insert(name.to_owned());
        Some("1".to_owned())
    });
    asked.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The evaluator on a template of its own, no translator needed.
    #[test]
    fn conditions_no_value_and_split_resolve_as_cloudformation_would() {
        let t = json!({
            "Parameters": { "Auth": { "Default": "IAM" }, "List": { "Default": "a,b" } },
            "Conditions": {
                "IsJwt": { "Fn::Equals": [{ "Ref": "Auth" }, "JWT"] },
                "NotJwt": { "Fn::Not": [{ "Condition": "IsJwt" }] },
            },
            "Rules": { "JwtNeedsList": {
                "RuleCondition": { "Fn::Equals": [{ "Ref": "Auth" }, "JWT"] },
                "Assertions": [{
                    "Assert": { "Fn::Not": [{ "Fn::Equals": [{ "Ref": "List" }, ""] }] },
                    "AssertDescription": "List is needed",
                }],
            }},
        });
        let v = json!({
            "a": { "Fn::If": ["IsJwt", "jwt", { "Ref": "AWS::NoValue" }] },
            "b": [{ "Fn::If": ["NotJwt", { "Fn::Split": [",", { "Ref": "List" }] }, "x"] }],
            "c": { "Fn::GetAtt": ["Res", "Arn"] },
        });
        let iam = parameter_values(&t, &[]);
        assert_eq!(
            evaluate(&v, &t, &iam),
            Some(json!({ "b": [["a", "b"]], "c": { "Fn::GetAtt": ["Res", "Arn"] } }))
        );
        let jwt = parameter_values(&t, &[("Auth", "JWT"), ("List", "")]);
        assert_eq!(evaluate(&v, &t, &jwt).unwrap()["a"], "jwt");
        assert_eq!(refused_by_rules(&t, &jwt), ["List is needed"]);
        assert!(refused_by_rules(&t, &iam).is_empty());
        assert!(refers_to(&v, "Res"));
        assert!(refers_to(
            &json!({ "Fn::Sub": "${Bucket.Arn}/x" }),
            "Bucket"
        ));
        assert_eq!(
            resolve_parameters(&json!({ "Fn::Sub": "${Auth}-${Other}" }), &iam),
            json!({ "Fn::Sub": "IAM-${Other}" })
        );
    }
}
