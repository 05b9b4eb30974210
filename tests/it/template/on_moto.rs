//! The template deployed to moto's CloudFormation (`testkit::deploy`): the stack is wired
//! to its own resources, and the predict function serves from them.

use std::collections::{BTreeSet, HashMap};

use aws_adapter::config::{BatchConfig, PredictConfig};
use e2e::{moto_or_skip, venv_tool_or_skip};
use testkit::{deploy, resources};

use super::STAGE_SWITCH;
use crate::predict_support as support;

#[tokio::test]
async fn deployed_to_moto_the_stack_is_wired_to_its_own_resources() {
    venv_tool_or_skip!("python");
    let endpoint = moto_or_skip!();
    let model_key = "models/2026-11/wine_quality.onnx";
    // With a challenger: its conditional grant and variable deploy too.
    let challenger_key = "models/2026-12/wine_quality_refit.onnx";
    let d = deploy::deploy_to_moto(
        &endpoint,
        &[
            ("ModelKey", model_key),
            ("ChallengerModelKey", challenger_key),
            ("ScanSegments", "8"),
        ],
    )
    .await
    .unwrap();
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
        "ChallengerDisagreementAlarm",
        "AccuracyMaeAlarm",
        "AccuracyRateAlarm",
        "ModelDashboard",
        "ModelBucketPolicy",
        "AccessLogBucketPolicy",
        "BatchFailureQueuePolicy",
        "BatchFunctionEventInvokeConfig",
        "PredictFunctionGetPredictionPermission",
        "PredictFunctionPostPredictionPermission",
        "PredictFunctionHealthPermission",
        "PredictFunctionGetStoredPredictionPermission",
        "PredictFunctionPostOutcomesPermission",
        "PredictFunctionOtherPermission",
        "CaptureBucketPolicy",
        "CaptureDeliveryStream",
        // On the stream's metric.
        "CaptureDeliveryAlarm",
        "CaptureSubscriptionFilter",
        // Its only grant is on the stream.
        "CaptureSubscriptionRole",
    ]
    .map(String::from)
    .into();
    assert_eq!(
        d.left_out, expected_out,
        "what the moto deployment leaves out"
    );
    let name = |id: &str| d.name(id);
    let (bucket, attributes, predictions, outcomes) = (
        name("ModelBucket"),
        name("AttributesTable"),
        name("PredictionsTable"),
        name("OutcomesTable"),
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
    // The outcomes table: its key, and the arrival index the nightly run reads.
    let described = clients
        .dynamodb
        .describe_table()
        .table_name(&outcomes)
        .send()
        .await
        .unwrap();
    let t = described.table().unwrap();
    let keys = |schema: &[aws_adapter::aws_sdk_dynamodb::types::KeySchemaElement]| {
        schema
            .iter()
            .map(|k| format!("{} {}", k.attribute_name(), k.key_type().as_str()))
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(t.key_schema()), ["subject HASH", "observed_at RANGE"]);
    let index = &t.global_secondary_indexes()[0];
    assert_eq!(index.index_name(), Some("by_arrival"));
    assert_eq!(
        keys(index.key_schema()),
        ["received_on HASH", "received_at RANGE"]
    );
    assert_eq!(
        index
            .projection()
            .and_then(|p| p.projection_type())
            .map(|p| p.as_str()),
        Some("ALL")
    );

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
    // (As moto's Lambda API describes them, read by deploy.py.)
    let env = |function: String| {
        let c = d
            .functions
            .get(&function)
            .unwrap_or_else(|| panic!("{function}: not among {:?}", d.functions.keys()));
        assert_eq!(c.runtime.as_deref(), Some("provided.al2023"));
        assert_eq!(c.handler.as_deref(), Some("bootstrap"));
        (c.arn.clone(), c.timeout, c.environment.clone())
    };
    let (predict_fn, batch_fn) = (name("PredictFunction"), name("BatchFunction"));
    assert_eq!(predict_fn, format!("{}-predict", d.stack));
    assert_eq!(batch_fn, format!("{}-batch", d.stack));
    let (_, _, predict_env) = env(predict_fn.clone());
    let (batch_arn, batch_timeout, batch_env) = env(batch_fn.clone());
    assert_eq!(batch_timeout, Some(900));
    // Bounded: the parameter's default, and BatchWorkers (4) + 1.
    let reserved = |function: &String| d.functions[function].reserved_concurrency;
    assert_eq!(reserved(&predict_fn), Some(100));
    assert_eq!(reserved(&batch_fn), Some(5));
    let expected_predict = HashMap::from([
        ("MODEL_BUCKET".to_owned(), bucket.clone()),
        ("MODEL_KEY".to_owned(), model_key.to_owned()),
        ("CHALLENGER_MODEL_KEY".to_owned(), challenger_key.to_owned()),
        ("ATTRIBUTES_TABLE".to_owned(), attributes.clone()),
        ("PREDICTIONS_TABLE".to_owned(), predictions.clone()),
        ("OUTCOMES_TABLE".to_owned(), outcomes.clone()),
        ("RUNS_PREFIX".to_owned(), "batch-runs/".to_owned()),
        ("METRICS_NAMESPACE".to_owned(), "ModelServing".to_owned()),
    ]);
    let mut with_stage_switch = expected_predict.clone();
    with_stage_switch.insert(STAGE_SWITCH.to_owned(), "true".to_owned());
    with_stage_switch.insert("MODEL_NAME".to_owned(), "wine-quality".to_owned());
    with_stage_switch.insert("OUTCOME_RETENTION_DAYS".to_owned(), "400".to_owned());
    // Off unless asked for.
    with_stage_switch.insert("CAPTURE_RATE".to_owned(), "0".to_owned());
    assert_eq!(predict_env, with_stage_switch);
    let mut expected_batch = expected_predict.clone();
    expected_batch.extend([
        ("SCAN_SEGMENTS".to_owned(), "8".to_owned()),
        ("BATCH_WORKERS".to_owned(), "4".to_owned()),
        ("EXPLAIN_TOP_K".to_owned(), "0".to_owned()),
        ("DEADLINE_MARGIN_SECONDS".to_owned(), "60".to_owned()),
        ("STATE_MACHINE_ARN".to_owned(), name("NightlyRun")),
        ("CAPTURE_BUCKET".to_owned(), name("CaptureBucket")),
        ("CAPTURE_PREFIX".to_owned(), "captures/".to_owned()),
        ("CAPTURE_LOOKBACK_DAYS".to_owned(), "7".to_owned()),
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
        batch_config.explain_top_k, 0,
        "no explanations unless asked for"
    );
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
        ("OutcomesTableName", &outcomes),
        ("PredictFunctionName", &predict_fn),
        ("BatchFunctionName", &batch_fn),
        ("CaptureBucketName", &name("CaptureBucket")),
    ] {
        assert_eq!(d.outputs.get(output), Some(value), "output {output}");
    }

    // The nightly rule targets the batch function, which lets EventBridge invoke it.
    let rule = name("BatchFunctionNightly");
    let described = d
        .rules
        .get(&rule)
        .unwrap_or_else(|| panic!("{rule}: not among {:?}", d.rules.keys()));
    assert_eq!(described.schedule.as_deref(), Some("cron(0 2 * * ? *)"));
    assert_eq!(described.targets, std::slice::from_ref(&batch_arn));
    // The permission that lets EventBridge invoke it was created (moto's GetPolicy fails
    // on permissions made by CloudFormation: its properties are checked on the template).
    assert!(d.created.contains("BatchFunctionNightlyPermission"));

    // And the predict function, configured from its deployed environment, serves from
    // this stack's bucket (the model uploaded at ModelKey) and table.
    resources::put_object(&clients.s3, &bucket, model_key, support::demo_model_bytes())
        .await
        .unwrap();
    let refit = testkit::models::challenger(testkit::models::challengers::REFIT);
    resources::put_object(&clients.s3, &bucket, challenger_key, refit)
        .await
        .unwrap();
    // The README's loader for a deployed stack (`devstack load-wines <table>`).
    let loaded = testkit::stack::load_wines(&clients.dynamodb, &attributes, |_, _| {})
        .await
        .unwrap();
    assert_eq!(loaded, 1599);
    let config = PredictConfig::from_lookup(|n| predict_env.get(n).cloned()).unwrap();
    for challenger in [&config.challenger, &batch_config.challenger] {
        let c = challenger.as_ref().expect("the challenger is configured");
        assert_eq!(
            (c.bucket.as_str(), c.key.as_str()),
            (bucket.as_str(), challenger_key)
        );
    }
    let function_clients = aws_adapter::AwsClients::new(&d.config, aws_adapter::CallPolicy::ONLINE);
    let app = predict::init_with(&config, &function_clients)
        .await
        .unwrap();
    let response = app.handle(support::request("predict-get.json")).await;
    assert_eq!(response.status().as_u16(), 200, "{:?}", response.body());
    assert_eq!(support::json_body(&response)["product_id"], "wine-0001");

    // It writes POST /outcomes to this stack's outcomes table, which the batch reads.
    assert_eq!(config.outcomes_table.as_deref(), Some(outcomes.as_str()));
    assert_eq!(
        batch_config.outcomes_table.as_deref(),
        Some(outcomes.as_str())
    );
    let body = serde_json::json!([
        {"product_id": "wine-0001", "outcome": 6, "observed_at": "2026-01-02T03:04:05Z"}
    ]);
    let mut request = lambda_http::Request::new(body.to_string().into());
    *request.method_mut() = lambda_http::http::Method::POST;
    *request.uri_mut() = "/outcomes".parse().unwrap();
    let response = app.handle(request).await;
    assert_eq!(response.status().as_u16(), 200, "{:?}", response.body());
    let stored = clients
        .dynamodb
        .scan()
        .table_name(&outcomes)
        .send()
        .await
        .unwrap();
    assert_eq!(stored.count(), 1);
}
