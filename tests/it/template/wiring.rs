//! The functions' environment is exactly what their code reads; their timeouts leave room
//! for their own answers; tables, bucket, logs, the batch function and its schedule are
//! configured as documented.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_adapter::config::{BatchConfig, PredictConfig};
use e2e::venv_tool_or_skip;
use serde_json::json;
use testkit::cloudformation::{
    env_names, of_function, of_type, props, refers_to, resource, translate, variables_read,
};

use super::STAGE_SWITCH;

#[test]
fn every_variable_the_code_reads_is_set_by_the_template_for_that_function() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let mut predict = variables_read(|lookup| {
        PredictConfig::from_lookup(lookup).expect("\"1\" for every variable is a valid config");
    });
    let mut batch = variables_read(|lookup| {
        BatchConfig::from_lookup(lookup).expect("\"1\" for every variable is a valid config");
    });
    assert!(predict.contains("MODEL_KEY") && batch.contains("PREDICTIONS_TABLE"));
    // Lambda's own variable, from the functions' MemorySize: the largest model they load.
    for read in [&mut predict, &mut batch] {
        assert!(read.remove("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"));
    }
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

/// `ExplainTopK` is the batch function's `EXPLAIN_TOP_K`: off by default, its bounds the
/// function's own, so that CloudFormation refuses what the function would refuse at init.
#[test]
fn the_explain_top_k_parameter_is_the_batch_functions_bounded_setting() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let parameter = &t["Parameters"]["ExplainTopK"];
    assert_eq!(parameter["Type"], "Number");
    assert_eq!(parameter["Default"], 0, "off unless asked for");
    assert_eq!(parameter["MinValue"], 0);
    assert_eq!(
        parameter["MaxValue"],
        aws_adapter::config::MAX_EXPLAIN_TOP_K,
        "the function's own bound"
    );
    assert_eq!(
        props(&t, "BatchFunction")["Environment"]["Variables"]["EXPLAIN_TOP_K"],
        json!({ "Ref": "ExplainTopK" })
    );
    assert!(
        props(&t, "PredictFunction")["Environment"]["Variables"]
            .get("EXPLAIN_TOP_K")
            .is_none(),
        "the predict function stores nothing"
    );
    // Every value the parameter allows is one the function takes, and one past it is not.
    let with = |k: String| {
        BatchConfig::from_lookup(|name| match name {
            "EXPLAIN_TOP_K" => Some(k.clone()),
            _ => Some("1".to_owned()),
        })
    };
    for k in [0, 1, aws_adapter::config::MAX_EXPLAIN_TOP_K] {
        assert_eq!(with(k.to_string()).unwrap().explain_top_k, k);
    }
    assert!(with((aws_adapter::config::MAX_EXPLAIN_TOP_K + 1).to_string()).is_err());
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
    // SSE-S3, or SSE-KMS with KmsKeyArn (security.rs).
    assert_eq!(
        bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            ["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
        json!({ "Fn::If": ["HasKmsKey", "aws:kms", "AES256"] })
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
    // SQS's own keys, or KmsKeyArn (security.rs).
    assert_eq!(
        props(&t, "BatchFailureQueue")["SqsManagedSseEnabled"],
        json!({ "Fn::If": ["HasKmsKey", { "Ref": "AWS::NoValue" }, true] })
    );
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
