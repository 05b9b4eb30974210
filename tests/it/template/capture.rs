//! Captures: the rate the predict function reads, the bucket (encrypted, TLS only,
//! private, versioned, expired), the delivery stream (CloudWatch Logs records
//! decompressed, the capture lines extracted and partitioned by model version, gzipped)
//! and the subscription that feeds it only the capture lines.

use aws_adapter::config::PredictConfig;
use e2e::venv_tool_or_skip;
use serde_json::{json, Value};
use testkit::cloudformation::{evaluate, parameter_values, props, statements_with, translate};

const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// `id`'s properties with the conditions evaluated, for the defaults and `overrides`.
fn evaluated(t: &Value, id: &str, overrides: &[(&str, &str)]) -> Value {
    evaluate(props(t, id), t, &parameter_values(t, overrides)).unwrap()
}

#[test]
fn the_capture_rate_is_the_predict_functions_and_off_by_default() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let parameter = &t["Parameters"]["CaptureRate"];
    assert_eq!(parameter["Type"], "Number");
    assert_eq!(
        parameter["Default"], 0,
        "captures hold customers' data: off"
    );
    assert_eq!(
        (&parameter["MinValue"], &parameter["MaxValue"]),
        (&json!(0), &json!(1))
    );
    assert_eq!(
        props(&t, "PredictFunction")["Environment"]["Variables"]["CAPTURE_RATE"],
        json!({ "Ref": "CaptureRate" })
    );
    assert!(props(&t, "BatchFunction")["Environment"]["Variables"]
        .get("CAPTURE_RATE")
        .is_none());
    // Every rate the parameter allows, the function takes; past its bounds, it refuses.
    let with = |rate: &str| {
        PredictConfig::from_lookup(|name| match name {
            "CAPTURE_RATE" => Some(rate.to_owned()),
            _ => Some("1".to_owned()),
        })
    };
    for (rate, read) in [("0", 0.0), ("0.3", 0.3), ("1", 1.0)] {
        assert_eq!(with(rate).unwrap().capture_rate.get(), read);
    }
    for refused in ["-0.01", "1.01"] {
        assert!(with(refused).is_err(), "{refused}");
    }
}

#[test]
fn the_capture_bucket_is_private_encrypted_tls_only_versioned_and_expired() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let retention = &t["Parameters"]["CaptureRetentionDays"];
    assert_eq!(
        (&retention["Default"], &retention["MinValue"]),
        (&json!(30), &json!(1))
    );
    let bucket = evaluated(&t, "CaptureBucket", &[]);
    assert_eq!(bucket["VersioningConfiguration"]["Status"], "Enabled");
    for (flag, on) in bucket["PublicAccessBlockConfiguration"]
        .as_object()
        .unwrap()
    {
        assert_eq!(on, true, "{flag}");
    }
    assert_eq!(
        bucket["PublicAccessBlockConfiguration"]
            .as_object()
            .unwrap()
            .len(),
        4
    );
    let rule = &bucket["LifecycleConfiguration"]["Rules"][0];
    assert_eq!(rule["Status"], "Enabled");
    assert_eq!(
        rule["ExpirationInDays"], "30",
        "CaptureRetentionDays' default"
    );
    let kept = evaluated(&t, "CaptureBucket", &[("CaptureRetentionDays", "90")]);
    assert_eq!(
        kept["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"],
        "90"
    );
    assert_eq!(
        rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"],
        1
    );
    assert_eq!(rule["NoncurrentVersionExpiration"]["NoncurrentDays"], 1);
    assert!(rule.get("Prefix").is_none(), "the whole bucket, errors too");
    let sse =
        |bucket: &Value| bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0].clone();
    let aws_managed = sse(&bucket);
    assert_eq!(
        aws_managed["ServerSideEncryptionByDefault"],
        json!({"SSEAlgorithm": "AES256"})
    );
    assert_eq!(aws_managed["BucketKeyEnabled"], true);
    let own = sse(&evaluated(&t, "CaptureBucket", &[("KmsKeyArn", KEY)]));
    assert_eq!(
        own["ServerSideEncryptionByDefault"],
        json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY})
    );
    assert_eq!(own["BucketKeyEnabled"], true);

    let policy = props(&t, "CaptureBucketPolicy");
    assert_eq!(policy["Bucket"], json!({ "Ref": "CaptureBucket" }));
    let deny = &policy["PolicyDocument"]["Statement"][0];
    assert_eq!(
        (&deny["Effect"], &deny["Action"], &deny["Principal"]),
        (&json!("Deny"), &json!("s3:*"), &json!("*"))
    );
    assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
    assert_eq!(
        deny["Resource"].as_array().unwrap().len(),
        2,
        "the bucket and its objects"
    );
}

#[test]
fn the_stream_partitions_by_model_version_and_date_and_gzips() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let stream = evaluated(&t, "CaptureDeliveryStream", &[]);
    let s3 = &stream["ExtendedS3DestinationConfiguration"];
    assert_eq!(
        s3["BucketARN"],
        json!({ "Fn::GetAtt": ["CaptureBucket", "Arn"] })
    );
    assert_eq!(
        s3["RoleARN"],
        json!({ "Fn::GetAtt": ["CaptureDeliveryRole", "Arn"] })
    );
    assert_eq!(
        s3["Prefix"],
        "captures/model_version=!{partitionKeyFromQuery:model_version}/date=!{timestamp:yyyy-MM-dd}/"
    );
    let errors = s3["ErrorOutputPrefix"].as_str().unwrap();
    assert!(errors.starts_with("capture-errors/"), "{errors}");
    assert!(errors.contains("!{firehose:error-output-type}"), "{errors}");
    assert_eq!(s3["CompressionFormat"], "GZIP");
    assert_eq!(s3["DynamicPartitioningConfiguration"]["Enabled"], true);
    assert!(
        s3["BufferingHints"]["SizeInMBs"].as_u64().unwrap() >= 64,
        "partitioning's least"
    );
    // In order: what CloudWatch Logs sends is gzipped, its events' messages are the
    // capture lines, one record each, partitioned by the line's model_version.
    let processing = &s3["ProcessingConfiguration"];
    assert_eq!(processing["Enabled"], true);
    let processors = processing["Processors"].as_array().unwrap();
    let types: Vec<&str> = processors
        .iter()
        .map(|p| p["Type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "Decompression",
            "CloudWatchLogProcessing",
            "RecordDeAggregation",
            "MetadataExtraction",
            "AppendDelimiterToRecord"
        ]
    );
    let parameter = |processor: &Value, name: &str| -> String {
        processor["Parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["ParameterName"] == name)
            .and_then(|p| p["ParameterValue"].as_str())
            .unwrap_or_else(|| panic!("{name} in {processor}"))
            .to_owned()
    };
    assert_eq!(parameter(&processors[0], "CompressionFormat"), "GZIP");
    assert_eq!(parameter(&processors[1], "DataMessageExtraction"), "true");
    assert_eq!(parameter(&processors[2], "SubRecordType"), "JSON");
    // The query's key is the prefix's, and reads the capture format's field.
    assert_eq!(
        parameter(&processors[3], "MetadataExtractionQuery"),
        "{model_version: .model_version}"
    );
    let line = json!({"capture": 1, "model_version": "v3"});
    let format: store::capture::CapturedRequest = serde_json::from_value(json!({
        "capture": 1, "request_id": "r", "time": "2026-12-07T21:30:00.123Z",
        "route": "POST /predict", "model": "m", "model_version": line["model_version"],
        "rows": []
    }))
    .unwrap();
    assert_eq!(format.model_version, "v3");

    // Encrypted at rest in the stream and in the bucket with the key when one is given.
    assert_eq!(
        stream["DeliveryStreamEncryptionConfigurationInput"]["KeyType"],
        "AWS_OWNED_CMK"
    );
    let keyed = evaluated(&t, "CaptureDeliveryStream", &[("KmsKeyArn", KEY)]);
    assert_eq!(
        keyed["DeliveryStreamEncryptionConfigurationInput"],
        json!({"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": KEY})
    );
    assert_eq!(
        keyed["ExtendedS3DestinationConfiguration"]["EncryptionConfiguration"],
        json!({"KMSEncryptionConfig": {"AWSKMSKeyARN": KEY}})
    );
}

#[test]
fn only_the_capture_lines_of_the_predict_log_reach_the_stream() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let filter = props(&t, "CaptureSubscriptionFilter");
    assert_eq!(filter["LogGroupName"], json!({ "Ref": "PredictLogGroup" }));
    assert_eq!(
        filter["FilterPattern"],
        format!("{{ $.capture = {} }}", store::capture::CAPTURE_FORMAT)
    );
    assert_eq!(
        filter["DestinationArn"],
        json!({ "Fn::GetAtt": ["CaptureDeliveryStream", "Arn"] })
    );
    assert_eq!(
        filter["RoleArn"],
        json!({ "Fn::GetAtt": ["CaptureSubscriptionRole", "Arn"] })
    );
    let outputs = &t["Outputs"];
    assert_eq!(
        outputs["CaptureBucketName"]["Value"],
        json!({ "Ref": "CaptureBucket" })
    );
    assert_eq!(
        outputs["CaptureUri"]["Value"],
        json!({ "Fn::Sub": "s3://${CaptureBucket}/captures/" })
    );
}

#[test]
fn the_capture_roles_may_deliver_and_nothing_else() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let trusted = |role: &str| {
        props(&t, role)["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"].clone()
    };
    assert_eq!(trusted("CaptureDeliveryRole"), "firehose.amazonaws.com");
    assert_eq!(trusted("CaptureSubscriptionRole"), "logs.amazonaws.com");
    let allowed = |role: &str, overrides: &[(&str, &str)]| {
        statements_with(&t, role, &parameter_values(&t, overrides))
    };
    for (actions, resources) in allowed("CaptureDeliveryRole", &[]) {
        assert!(actions.iter().all(|a| a.starts_with("s3:")), "{actions:?}");
        assert!(actions.contains("s3:PutObject"));
        assert!(!actions.iter().any(|a| a.contains("Delete")), "{actions:?}");
        for r in resources {
            assert!(r.to_string().contains("CaptureBucket"), "{r}");
        }
    }
    let keyed = allowed("CaptureDeliveryRole", &[("KmsKeyArn", KEY)]);
    assert_eq!(keyed.len(), 2);
    assert_eq!(keyed[1].1, [json!(KEY)]);
    let subscription = allowed("CaptureSubscriptionRole", &[]);
    assert_eq!(subscription.len(), 1);
    assert_eq!(
        subscription[0]
            .0
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["firehose:PutRecord", "firehose:PutRecordBatch"]
    );
    assert_eq!(
        subscription[0].1,
        [json!({ "Fn::GetAtt": ["CaptureDeliveryStream", "Arn"] })]
    );
}

#[test]
fn a_stream_that_holds_captures_undelivered_sets_off_an_alarm_on_the_dashboard() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let alarm = props(&t, "CaptureDeliveryAlarm");
    assert_eq!(alarm["Namespace"], "AWS/Firehose");
    assert_eq!(alarm["MetricName"], "DeliveryToS3.DataFreshness");
    assert_eq!(
        alarm["Dimensions"],
        json!([{ "Name": "DeliveryStreamName", "Value": { "Ref": "CaptureDeliveryStream" } }])
    );
    assert_eq!(alarm["Statistic"], "Maximum");
    // Longer than the stream's buffer ever holds a record (it flushes every 5 minutes).
    let interval = props(&t, "CaptureDeliveryStream")["ExtendedS3DestinationConfiguration"]
        ["BufferingHints"]["IntervalInSeconds"]
        .as_f64()
        .unwrap();
    let threshold = alarm["Threshold"].as_f64().unwrap();
    assert!(threshold > interval, "{threshold} over {interval}");
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
    // No captures, no data: no alarm.
    assert_eq!(alarm["TreatMissingData"], "notBreaching");
    assert!(t["Resources"]["CaptureDeliveryAlarm"]
        .get("Condition")
        .is_none());
}
