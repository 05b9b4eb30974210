use super::*;
use std::collections::HashMap;

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| vars.get(name).cloned()
}

#[test]
fn predict_config_reads_its_four_variables() {
    let config = PredictConfig::from_lookup(lookup(&[
        ("MODEL_BUCKET", "models"),
        ("MODEL_KEY", "wine/v1.onnx"),
        ("ATTRIBUTES_TABLE", "attributes"),
        ("PREDICTIONS_TABLE", "predictions"),
        ("MODEL_NAME", "wine-quality"),
    ]))
    .unwrap();
    assert_eq!(config.model_name, "wine-quality");
    assert_eq!(
        (
            config.predictions_table.as_str(),
            config.runs_prefix.as_str()
        ),
        ("predictions", "batch-runs/")
    );
    assert_eq!(
        config.model,
        ModelLocation {
            bucket: "models".into(),
            key: "wine/v1.onnx".into()
        }
    );
    assert_eq!(config.attributes_table, "attributes");
    assert_eq!(config.challenger, None);
    assert_eq!(config.capture_rate, CaptureRate::OFF);
}

#[test]
fn the_capture_rate_is_a_share_from_0_to_1_and_off_unless_set() {
    let base = [
        ("MODEL_BUCKET", "models"),
        ("MODEL_KEY", "wine/v1.onnx"),
        ("ATTRIBUTES_TABLE", "attributes"),
        ("PREDICTIONS_TABLE", "predictions"),
        ("MODEL_NAME", "wine-quality"),
    ];
    let with = |rate: &'static str| {
        let mut vars = base.to_vec();
        vars.push(("CAPTURE_RATE", rate));
        PredictConfig::from_lookup(lookup(&vars))
    };
    for (text, rate) in [
        ("0", 0.0),
        ("1", 1.0),
        ("0.25", 0.25),
        (" 0.5 ", 0.5),
        ("", 0.0),
    ] {
        assert_eq!(with(text).unwrap().capture_rate.get(), rate, "{text:?}");
    }
    for bad in ["1.5", "-0.1", "NaN", "inf", "half", "10%"] {
        match with(bad) {
            Err(ConfigError::Invalid { name, problem, .. }) => {
                assert_eq!(name, "CAPTURE_RATE", "{bad}");
                assert!(problem.contains("from 0"), "{bad}: {problem}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn a_challenger_is_read_from_its_key_in_the_models_bucket() {
    let vars = [
        ("MODEL_BUCKET", "models"),
        ("MODEL_KEY", "wine/v1.onnx"),
        ("ATTRIBUTES_TABLE", "attributes"),
        ("PREDICTIONS_TABLE", "predictions"),
        ("MODEL_NAME", "wine-quality"),
        ("CHALLENGER_MODEL_KEY", "wine/v2.onnx"),
    ];
    let challenger = Some(ModelLocation {
        bucket: "models".into(),
        key: "wine/v2.onnx".into(),
    });
    let predict = PredictConfig::from_lookup(lookup(&vars)).unwrap();
    assert_eq!(predict.challenger, challenger);
    assert_eq!(predict.challenger_name(), "wine-quality-challenger");
    assert_eq!(model_name_problem(&predict.challenger_name()), None);
    let batch = BatchConfig::from_lookup(lookup(&vars)).unwrap();
    assert_eq!(batch.challenger, challenger);
    // Blank is none, as the template's default "" sets it.
    let mut blank = vars;
    blank[5].1 = " ";
    assert_eq!(
        PredictConfig::from_lookup(lookup(&blank))
            .unwrap()
            .challenger,
        None
    );
    assert_eq!(
        BatchConfig::from_lookup(lookup(&blank)).unwrap().challenger,
        None
    );
}

#[test]
fn a_missing_or_blank_variable_is_named() {
    let err = PredictConfig::from_lookup(lookup(&[("MODEL_BUCKET", "m"), ("MODEL_KEY", " ")]))
        .unwrap_err();
    assert_eq!(err, ConfigError::Missing("MODEL_KEY"));
    assert_eq!(err.to_string(), "environment variable MODEL_KEY is not set");
}

#[test]
fn the_model_name_is_required_and_checked() {
    let base = [
        ("MODEL_BUCKET", "m"),
        ("MODEL_KEY", "k"),
        ("ATTRIBUTES_TABLE", "a"),
        ("PREDICTIONS_TABLE", "p"),
    ];
    assert_eq!(
        PredictConfig::from_lookup(lookup(&base)).unwrap_err(),
        ConfigError::Missing("MODEL_NAME")
    );
    let longest = "n".repeat(MAX_MODEL_NAME_CHARS);
    for good in ["wine-quality", "a", "Wine_Good.v2", "1", longest.as_str()] {
        let mut vars = base.to_vec();
        vars.push(("MODEL_NAME", good));
        assert_eq!(
            PredictConfig::from_lookup(lookup(&vars))
                .unwrap()
                .model_name,
            good
        );
    }
    let too_long = "n".repeat(MAX_MODEL_NAME_CHARS + 1);
    for (bad, says) in [
        ("wine quality", "' ' is not allowed"),
        ("wine/quality", "'/' is not allowed"),
        ("vin-rouge-\u{e9}", "is not allowed"),
        ("..", "resolve away"),
        (too_long.as_str(), "must be 1 to 128 characters (it is 129)"),
    ] {
        let mut vars = base.to_vec();
        vars.push(("MODEL_NAME", bad));
        let err = PredictConfig::from_lookup(lookup(&vars)).unwrap_err();
        assert!(
            matches!(
                &err,
                ConfigError::Invalid {
                    name: "MODEL_NAME",
                    ..
                }
            ),
            "{bad}: {err}"
        );
        assert!(err.to_string().contains(says), "{bad}: {err}");
    }
}

#[test]
fn batch_config_defaults_and_bounds() {
    let base = [
        ("MODEL_BUCKET", "m"),
        ("MODEL_KEY", "k"),
        ("ATTRIBUTES_TABLE", "a"),
        ("PREDICTIONS_TABLE", "p"),
    ];
    let config = BatchConfig::from_lookup(lookup(&base)).unwrap();
    assert_eq!(
        (
            config.scan_segments,
            config.runs_prefix.as_str(),
            config.deadline_margin_seconds,
            config.state_machine_arn.as_deref(),
            config.workers
        ),
        (4, "batch-runs/", None, None, 1)
    );
    let least = Duration::from_millis(382_500);
    assert_eq!(config.deadline_margin(least), Duration::from_secs(383));
    for (configured, margin) in [("60", 383), ("383", 383), ("500", 500)] {
        let mut vars = base.to_vec();
        vars.push(("DEADLINE_MARGIN_SECONDS", configured));
        let config = BatchConfig::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(
            config.deadline_margin(least),
            Duration::from_secs(margin),
            "{configured}"
        );
    }
    let mut unreadable = base.to_vec();
    unreadable.push(("DEADLINE_MARGIN_SECONDS", "a minute"));
    assert!(matches!(
        BatchConfig::from_lookup(lookup(&unreadable)),
        Err(ConfigError::Invalid {
            name: "DEADLINE_MARGIN_SECONDS",
            ..
        })
    ));
    let mut none = base.to_vec();
    none.push(("BATCH_WORKERS", "0"));
    assert!(matches!(
        BatchConfig::from_lookup(lookup(&none)),
        Err(ConfigError::Invalid {
            name: "BATCH_WORKERS",
            ..
        })
    ));
    let mut fanned_out = base.to_vec();
    fanned_out.extend([("BATCH_WORKERS", "4"), ("STATE_MACHINE_ARN", "arn:sm")]);
    let config = BatchConfig::from_lookup(lookup(&fanned_out)).unwrap();
    assert_eq!(
        (config.workers, config.state_machine_arn.as_deref()),
        (4, Some("arn:sm"))
    );
    let mut zero = base.to_vec();
    zero.push(("SCAN_SEGMENTS", "0"));
    assert!(matches!(
        BatchConfig::from_lookup(lookup(&zero)),
        Err(ConfigError::Invalid {
            name: "SCAN_SEGMENTS",
            ..
        })
    ));
    assert_eq!(
        BatchConfig::from_lookup(lookup(&base[..3])).unwrap_err(),
        ConfigError::Missing("PREDICTIONS_TABLE")
    );
}

#[test]
fn explain_top_k_is_off_by_default_and_bounded() {
    let base = [
        ("MODEL_BUCKET", "m"),
        ("MODEL_KEY", "k"),
        ("ATTRIBUTES_TABLE", "a"),
        ("PREDICTIONS_TABLE", "p"),
    ];
    assert_eq!(
        BatchConfig::from_lookup(lookup(&base))
            .unwrap()
            .explain_top_k,
        0
    );
    let max = MAX_EXPLAIN_TOP_K.to_string();
    for (value, k) in [("0", 0), ("", 0), ("3", 3), (" 5 ", 5), (max.as_str(), 50)] {
        let mut vars = base.to_vec();
        vars.push(("EXPLAIN_TOP_K", value));
        assert_eq!(
            BatchConfig::from_lookup(lookup(&vars))
                .unwrap()
                .explain_top_k,
            k,
            "{value:?}"
        );
    }
    for (value, says) in [
        ("51", "must be between 0 (no explanations) and 50"),
        ("1000000", "must be between 0"),
        ("-1", "invalid digit"),
        ("five", "invalid digit"),
        ("2.5", "invalid digit"),
    ] {
        let mut vars = base.to_vec();
        vars.push(("EXPLAIN_TOP_K", value));
        let err = BatchConfig::from_lookup(lookup(&vars)).unwrap_err();
        assert!(
            matches!(
                &err,
                ConfigError::Invalid {
                    name: "EXPLAIN_TOP_K",
                    ..
                }
            ),
            "{value}: {err}"
        );
        assert!(err.to_string().contains(says), "{value}: {err}");
    }
}

#[test]
fn an_unexplainable_model_is_refused_with_its_reason_and_the_way_out() {
    let err = InitError::Unexplainable {
        top_k: 5,
        reason: "the model card has no node covers".into(),
    };
    assert_eq!(
        err.to_string(),
        "EXPLAIN_TOP_K is 5, but the model cannot explain its answers: the model card has \
         no node covers; set EXPLAIN_TOP_K to 0 to run without explanations"
    );
}

#[test]
fn parsed_values_have_defaults_and_named_errors() {
    let f = lookup(&[("N", "x")]);
    let env = Env(&f);
    assert_eq!(env.parsed_or("UNSET", 4u32).unwrap(), 4);
    let err = env.parsed_or("N", 4u32).unwrap_err();
    assert!(
        matches!(err, ConfigError::Invalid { name: "N", .. }),
        "{err}"
    );
}

#[test]
fn the_load_budget_is_the_functions_memory_or_none_outside_lambda() {
    let base = [
        ("MODEL_BUCKET", "models"),
        ("MODEL_KEY", "m.onnx"),
        ("ATTRIBUTES_TABLE", "attributes"),
        ("PREDICTIONS_TABLE", "predictions"),
        ("MODEL_NAME", "m"),
    ];
    let with = |memory: &'static str| {
        let mut vars = base.to_vec();
        vars.push(("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory));
        vars
    };
    let predict = PredictConfig::from_lookup(lookup(&with("512"))).unwrap();
    assert_eq!(predict.load_budget, LoadBudget::for_memory_mb(512));
    let batch = BatchConfig::from_lookup(lookup(&with("1024"))).unwrap();
    assert_eq!(batch.load_budget, LoadBudget::for_memory_mb(1024));
    let unset = PredictConfig::from_lookup(lookup(&base)).unwrap();
    assert_eq!(unset.load_budget, LoadBudget::unlimited());
    let err = PredictConfig::from_lookup(lookup(&with("lots"))).unwrap_err();
    assert!(
        err.to_string().contains("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
        "{err}"
    );
}

#[test]
fn the_outcome_join_is_off_without_an_outcomes_table_and_reads_captures_when_given() {
    let base = [
        ("MODEL_BUCKET", "m"),
        ("MODEL_KEY", "k"),
        ("ATTRIBUTES_TABLE", "a"),
        ("PREDICTIONS_TABLE", "p"),
    ];
    let config = BatchConfig::from_lookup(lookup(&base)).unwrap();
    assert_eq!(
        (
            config.outcomes_table.as_deref(),
            config.capture_bucket.as_deref(),
            config.capture_prefix.as_str(),
            config.capture_lookback_days
        ),
        (None, None, "captures/", 7)
    );
    let mut vars = base.to_vec();
    vars.extend([
        ("OUTCOMES_TABLE", "o"),
        ("CAPTURE_BUCKET", "c"),
        ("CAPTURE_PREFIX", "x/"),
        ("CAPTURE_LOOKBACK_DAYS", "2"),
    ]);
    let config = BatchConfig::from_lookup(lookup(&vars)).unwrap();
    assert_eq!(
        (
            config.outcomes_table.as_deref(),
            config.capture_bucket.as_deref(),
            config.capture_prefix.as_str(),
            config.capture_lookback_days
        ),
        (Some("o"), Some("c"), "x/", 2)
    );
    for bad in ["367", "-1", "a week"] {
        let mut vars = base.to_vec();
        vars.push(("CAPTURE_LOOKBACK_DAYS", bad));
        assert!(
            matches!(
                BatchConfig::from_lookup(lookup(&vars)),
                Err(ConfigError::Invalid {
                    name: "CAPTURE_LOOKBACK_DAYS",
                    ..
                })
            ),
            "{bad}"
        );
    }
}

#[test]
fn the_outcomes_table_is_optional_and_its_retention_bounded() {
    let mut vars = vec![
        ("MODEL_BUCKET", "models"),
        ("MODEL_KEY", "wine/v1.onnx"),
        ("ATTRIBUTES_TABLE", "attributes"),
        ("PREDICTIONS_TABLE", "predictions"),
        ("MODEL_NAME", "wine-quality"),
    ];
    let predict = PredictConfig::from_lookup(lookup(&vars)).unwrap();
    assert_eq!(predict.outcomes_table, None);
    assert_eq!(
        predict.outcome_retention_days,
        DEFAULT_OUTCOME_RETENTION_DAYS
    );
    assert_eq!(
        BatchConfig::from_lookup(lookup(&vars))
            .unwrap()
            .outcomes_table,
        None
    );
    vars.push(("OUTCOMES_TABLE", " "));
    assert_eq!(
        PredictConfig::from_lookup(lookup(&vars))
            .unwrap()
            .outcomes_table,
        None,
        "blank is none"
    );
    vars.pop();
    vars.push(("OUTCOMES_TABLE", "outcomes"));
    vars.push(("OUTCOME_RETENTION_DAYS", "30"));
    let predict = PredictConfig::from_lookup(lookup(&vars)).unwrap();
    assert_eq!(predict.outcomes_table.as_deref(), Some("outcomes"));
    assert_eq!(predict.outcome_retention_days, 30);
    assert_eq!(
        BatchConfig::from_lookup(lookup(&vars))
            .unwrap()
            .outcomes_table
            .as_deref(),
        Some("outcomes")
    );
    for bad in ["0", "36501", "-1", "a year"] {
        *vars.last_mut().unwrap() = ("OUTCOME_RETENTION_DAYS", bad);
        match PredictConfig::from_lookup(lookup(&vars)) {
            Err(ConfigError::Invalid { name, .. }) => assert_eq!(name, "OUTCOME_RETENTION_DAYS"),
            other => panic!("{bad}: {other:?}"),
        }
    }
}
