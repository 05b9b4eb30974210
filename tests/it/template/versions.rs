//! When CloudFormation publishes a new predict version, which starts the canary: a new
//! model, challenger, memory size, architecture, model name or code does; an unchanged
//! deploy does not.

use std::collections::BTreeMap;

use e2e::{unique, venv_tool_or_skip};
use serde_json::Value;
use testkit::cloudformation::{
    evaluate, of_function, parameter_values, resolve_parameters, template_path, translate,
    translate_file_again, translated_with,
};

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
    // As CloudFormation resolves them: conditions (`Fn::If`), then parameters in `Fn::Sub`.
    let resolved = |t: &Value, v: &Value, params: &BTreeMap<String, String>| {
        resolve_parameters(&evaluate(v, t, params).expect("properties"), params)
    };
    let (a, b) = (
        resolved(before.0, &a["Properties"], before.1),
        resolved(after.0, &b["Properties"], after.1),
    );
    id_a != id_b || CREATE_ONLY.iter().any(|p| a.get(p) != b.get(p))
}

#[test]
fn a_new_model_key_memory_size_architecture_or_model_name_publishes_a_new_predict_version() {
    venv_tool_or_skip!("python");
    let template = template_path();
    let (base, base_values) = translated_with(&template, &[]);
    for change in [
        ("ModelKey", "wine-quality/v2/wine_quality.onnx"),
        ("MemorySize", "2048"),
        ("Architecture", "x86_64"),
        ("ModelName", "wine-quality-v2"),
        ("ChallengerModelKey", "wine-quality/challenger.onnx"),
    ] {
        let (t, values) = translated_with(&template, &[change]);
        assert!(
            publishes_a_new_version((&base, &base_values), (&t, &values)),
            "{}={} alone must publish a new predict version (and start the canary)",
            change.0,
            change.1
        );
    }
    // Another challenger (or none after one) publishes too: a version keeps the environment
    // it was published with, so `live` would never load the new one otherwise.
    let challenger = |key: &str| translated_with(&template, &[("ChallengerModelKey", key)]);
    let (one, one_values) = challenger("wine-quality/challenger-1.onnx");
    let (two, two_values) = challenger("wine-quality/challenger-2.onnx");
    assert!(publishes_a_new_version(
        (&one, &one_values),
        (&two, &two_values)
    ));
    assert!(publishes_a_new_version(
        (&one, &one_values),
        (&base, &base_values)
    ));
    assert!(!publishes_a_new_version(
        (&one, &one_values),
        (&one, &one_values)
    ));
    // A second run of the translator (not the process's memory of the first): the version's
    // logical id must not change between runs.
    let same = translate_file_again(&template, &[]);
    let same_values = parameter_values(&same, &[]);
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
    let template = template_path();
    let (t, _) = translated_with(&template, &[]);
    let max = |name: &str| -> usize {
        t["Parameters"][name]["MaxLength"]
            .as_u64()
            .or_else(|| t["Parameters"][name]["MaxLength"].as_str()?.parse().ok())
            .unwrap_or_else(|| panic!("{name} has a MaxLength")) as usize
    };
    let (key, name) = ("k".repeat(max("ModelKey")), "n".repeat(max("ModelName")));
    // The challenger's key is promoted to ModelKey and back: the same bound.
    assert_eq!(max("ChallengerModelKey"), max("ModelKey"));
    let challenger = "c".repeat(max("ChallengerModelKey"));
    let longest = [
        ("ModelKey", key.as_str()),
        ("ChallengerModelKey", challenger.as_str()),
        ("ModelName", name.as_str()),
        ("MemorySize", "10240"),
        ("Architecture", "x86_64"),
    ];
    let values = parameter_values(&t, &longest);
    let (_, version) = of_function(&t, "AWS::Lambda::Version", "PredictFunction");
    let description = evaluate(&version["Properties"]["Description"], &t, &values).unwrap();
    let description = resolve_parameters(&description, &values);
    let description = description["Fn::Sub"]
        .as_str()
        .expect("a description with every parameter substituted");
    assert!(!description.contains("${"), "{description}");
    assert!(
        description.len() <= 256,
        "{} characters: {description}",
        description.len()
    );
    assert!(
        description.contains(&name)
            && description.contains(&key)
            && description.contains(&challenger)
    );
    // Every name the parameter allows is one the function accepts.
    let pattern = t["Parameters"]["ModelName"]["AllowedPattern"]
        .as_str()
        .unwrap();
    assert_eq!(pattern, "[A-Za-z0-9_.-]+");
    assert!(max("ModelName") <= aws_adapter::config::MAX_MODEL_NAME_CHARS);
    assert_eq!(aws_adapter::config::model_name_problem(&name), None);
    // And the challenger's name in the OIP routes, `<ModelName>-challenger`.
    assert_eq!(
        aws_adapter::config::model_name_problem(&aws_adapter::config::challenger_name(&name)),
        None
    );
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
    let original = std::fs::read_to_string(template_path()).unwrap();
    // The property and its value's lines (indented deeper: the `!If` branches).
    let mut skipping_under: Option<usize> = None;
    let indent = |l: &str| l.len() - l.trim_start().len();
    let stripped: String = original
        .lines()
        .filter(|l| {
            if let Some(depth) = skipping_under {
                if indent(l) > depth {
                    return false;
                }
                skipping_under = None;
            }
            if l.trim_start().starts_with("VersionDescription:") {
                skipping_under = Some(indent(l));
                return false;
            }
            true
        })
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
