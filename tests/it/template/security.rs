//! What the security scan (`make scan`: checkov on the translated template) asks for, as
//! the template does it: the stack's own KMS key wherever one can be used when `KmsKeyArn`
//! is given (and AWS's keys otherwise), a concurrency bound on each function that covers
//! its load, S3 access logs for every bucket, and each finding skipped on purpose written
//! beside its resource with the reason. checkov cannot evaluate `Fn::If`: these tests
//! resolve the template for both choices.

use std::collections::{BTreeMap, BTreeSet};

use e2e::{moto_or_skip, venv_tool_or_skip};
use serde_json::{json, Value};
use testkit::cloudformation::{
    evaluate, of_type, parameter_values, props, refers_to, resource, statements_with, translate,
    Parameters,
};
use testkit::{deploy, state_machine};

const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/00000000-1111-2222-3333-444444444444";

/// Where each resource type that can use a customer-managed key names it.
const KEY_PROPERTY: [(&str, &[&str]); 6] = [
    (
        "AWS::KinesisFirehose::DeliveryStream",
        &["DeliveryStreamEncryptionConfigurationInput", "KeyARN"],
    ),
    ("AWS::Logs::LogGroup", &["KmsKeyId"]),
    (
        "AWS::DynamoDB::Table",
        &["SSESpecification", "KMSMasterKeyId"],
    ),
    ("AWS::SQS::Queue", &["KmsMasterKeyId"]),
    ("AWS::Lambda::Function", &["KmsKeyArn"]),
    (
        "AWS::S3::Bucket",
        &["BucketEncryption", "ServerSideEncryptionConfiguration", "0"],
    ),
];

/// S3 delivers server access logs only to a bucket encrypted with SSE-S3.
const LOG_BUCKET: &str = "AccessLogBucket";

/// Every resource of `ty`, its properties resolved for `params`.
fn resolved<'a>(t: &'a Value, ty: &str, params: &Parameters) -> Vec<(&'a str, Value)> {
    of_type(t, ty)
        .into_iter()
        .map(|(id, r)| (id, evaluate(&r["Properties"], t, params).unwrap()))
        .collect()
}

fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, p| match p.parse::<usize>() {
        Ok(i) => &v[i],
        Err(_) => &v[*p],
    })
}

/// A bucket's default encryption: (algorithm, key).
fn bucket_sse(p: &Value) -> (&Value, &Value) {
    let by_default = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        ["ServerSideEncryptionByDefault"];
    (&by_default["SSEAlgorithm"], &by_default["KMSMasterKeyID"])
}

#[test]
fn without_a_key_everything_is_encrypted_by_aws_keys_and_nothing_names_one() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let params = parameter_values(&t, &[]);
    assert_eq!(params["KmsKeyArn"], "", "no key of your own by default");
    for (ty, path) in KEY_PROPERTY {
        for (id, p) in resolved(&t, ty, &params) {
            let named = if ty == "AWS::S3::Bucket" {
                bucket_sse(&p).1
            } else {
                at(&p, path)
            };
            assert!(named.is_null(), "{id}: {named}");
        }
    }
    for (id, p) in resolved(&t, "AWS::S3::Bucket", &params) {
        assert_eq!(bucket_sse(&p).0, "AES256", "{id}");
    }
    for (id, p) in resolved(&t, "AWS::DynamoDB::Table", &params) {
        assert_eq!(p["SSESpecification"], json!({ "SSEEnabled": true }), "{id}");
    }
    for (id, p) in resolved(&t, "AWS::SQS::Queue", &params) {
        assert_eq!(p["SqsManagedSseEnabled"], true, "{id}");
    }
    // The stack's own roles (SAM's CodeDeploy role has only AWS's managed policy).
    let roles = of_type(&t, "AWS::IAM::Role")
        .into_iter()
        .filter(|(_, r)| r["Properties"].get("ManagedPolicyArns").is_none());
    for role in roles.map(|(id, _)| id) {
        for (actions, _) in statements_with(&t, role, &params) {
            assert!(
                actions.iter().all(|a| !a.starts_with("kms:")),
                "{role}: {actions:?} without a key"
            );
        }
    }
}

#[test]
fn with_a_key_every_log_group_table_queue_bucket_and_function_uses_it() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let params = parameter_values(&t, &[("KmsKeyArn", KEY)]);
    let mut seen = BTreeSet::new();
    for (ty, path) in KEY_PROPERTY {
        for (id, p) in resolved(&t, ty, &params) {
            seen.insert(ty);
            match ty {
                "AWS::S3::Bucket" if id == LOG_BUCKET => {
                    assert_eq!(bucket_sse(&p), (&json!("AES256"), &Value::Null));
                }
                "AWS::S3::Bucket" => {
                    assert_eq!(bucket_sse(&p), (&json!("aws:kms"), &json!(KEY)), "{id}");
                    assert_eq!(
                        at(&p, path)["BucketKeyEnabled"],
                        true,
                        "{id}: fewer KMS calls"
                    );
                }
                _ => assert_eq!(at(&p, path), KEY, "{id}"),
            }
            match ty {
                "AWS::DynamoDB::Table" => {
                    assert_eq!(p["SSESpecification"]["SSEType"], "KMS", "{id}");
                    assert_eq!(p["SSESpecification"]["SSEEnabled"], true, "{id}");
                }
                // SQS takes one or the other.
                "AWS::SQS::Queue" => assert!(p.get("SqsManagedSseEnabled").is_none(), "{id}"),
                // What the stream writes to S3 too.
                "AWS::KinesisFirehose::DeliveryStream" => {
                    let s3 = &p["ExtendedS3DestinationConfiguration"]["EncryptionConfiguration"];
                    assert_eq!(s3["KMSEncryptionConfig"]["AWSKMSKeyARN"], KEY, "{id}");
                }
                _ => {}
            }
        }
    }
    assert_eq!(seen.len(), KEY_PROPERTY.len(), "{seen:?}");
    // A key that is not a KMS key's ARN is refused before anything is created.
    let pattern = t["Parameters"]["KmsKeyArn"]["AllowedPattern"]
        .as_str()
        .unwrap();
    assert!(
        pattern.starts_with('(') && pattern.ends_with(")?"),
        "empty or an ARN"
    );
}

/// The functions may use the key for what they do with encrypted data, on that key only:
/// predict reads (model objects, tables, its environment), batch also writes (run
/// summaries, the failure queue's messages).
#[test]
fn with_a_key_each_function_may_use_exactly_that_key() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let params = parameter_values(&t, &[("KmsKeyArn", KEY)]);
    for (role, expected) in [
        ("PredictFunctionRole", &["kms:Decrypt"][..]),
        (
            "BatchFunctionRole",
            &["kms:Decrypt", "kms:GenerateDataKey"][..],
        ),
    ] {
        let kms: Vec<(BTreeSet<String>, Vec<Value>)> = statements_with(&t, role, &params)
            .into_iter()
            .filter(|(actions, _)| actions.iter().any(|a| a.starts_with("kms:")))
            .collect();
        assert_eq!(kms.len(), 1, "{role}: {kms:?}");
        let (actions, resources) = &kms[0];
        assert_eq!(
            actions.iter().map(String::as_str).collect::<Vec<_>>(),
            expected,
            "{role}"
        );
        assert_eq!(resources, &[json!(KEY)], "{role}");
    }
}

/// Each function has a reserved concurrency: predict's from a parameter whose default
/// serves the API's own rate limit, batch's the night's Map concurrency (BatchWorkers)
/// plus the planning invocation, for every BatchWorkers the template accepts.
#[test]
fn each_function_is_bounded_and_the_batch_bound_covers_its_workers() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let predict = props(&t, "PredictFunction");
    assert_eq!(
        predict["ReservedConcurrentExecutions"],
        json!({ "Ref": "PredictReservedConcurrency" })
    );
    let parameter = &t["Parameters"]["PredictReservedConcurrency"];
    assert_eq!(parameter["Type"], "Number");
    assert_eq!(parameter["MinValue"], 1, "0 would throttle every request");
    let (_, stage) = of_type(&t, "AWS::ApiGatewayV2::Stage")[0];
    let rate = &stage["Properties"]["DefaultRouteSettings"]["ThrottlingRateLimit"];
    assert!(
        parameter["Default"].as_f64().unwrap() >= rate.as_f64().unwrap(),
        "the API's {rate} requests/s at up to a second each"
    );

    let batch = props(&t, "BatchFunction");
    assert_eq!(
        batch["ReservedConcurrentExecutions"],
        json!({ "Fn::FindInMap": ["BatchConcurrency", { "Ref": "BatchWorkers" }, "Reserved"] })
    );
    assert_eq!(
        batch["Environment"]["Variables"]["BATCH_WORKERS"],
        json!({ "Ref": "BatchWorkers" })
    );
    // The Map runs at most the plan's workers at once, which the planner caps at
    // BATCH_WORKERS.
    let function = "arn:aws:lambda:us-east-1:123456789012:function:stack-batch";
    let text = state_machine::definition(
        &t,
        &BTreeMap::from([("BatchFunctionArn", function.to_owned())]),
    )
    .unwrap();
    let definition: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        definition["States"]["ScoreSlices"]["MaxConcurrencyPath"],
        "$.workers"
    );
    let workers = &t["Parameters"]["BatchWorkers"];
    let (min, max) = (
        workers["MinValue"].as_u64().unwrap(),
        workers["MaxValue"].as_u64().unwrap(),
    );
    let table = t["Mappings"]["BatchConcurrency"].as_object().unwrap();
    let keys: BTreeSet<u64> = table.keys().map(|k| k.parse().unwrap()).collect();
    assert_eq!(
        keys,
        (min..=max).collect(),
        "one entry per BatchWorkers value"
    );
    for (w, entry) in table {
        let w: u64 = w.parse().unwrap();
        assert_eq!(entry["Reserved"], w + 1, "BatchWorkers={w}");
    }
}

/// Every bucket but the log bucket writes S3 access logs to it, under a prefix of its own
/// that the log bucket's policy lets S3's log delivery write for that bucket only; the log
/// bucket keeps them LogRetentionInDays, private and encrypted.
#[test]
fn every_bucket_logs_to_the_access_log_bucket_which_takes_only_their_logs() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let params = parameter_values(&t, &[]);
    let policy = props(&t, "AccessLogBucketPolicy");
    assert_eq!(policy["Bucket"], json!({ "Ref": LOG_BUCKET }));
    let statements = policy["PolicyDocument"]["Statement"].as_array().unwrap();
    let tls_only = &statements[0];
    assert_eq!(tls_only["Effect"], "Deny");
    assert_eq!(
        tls_only["Condition"]["Bool"]["aws:SecureTransport"],
        "false"
    );
    let delivery = statements
        .iter()
        .find(|s| s["Principal"]["Service"] == "logging.s3.amazonaws.com")
        .expect("a statement for S3's log delivery");
    assert_eq!(delivery["Effect"], "Allow");
    assert_eq!(delivery["Action"], "s3:PutObject");
    assert_eq!(
        delivery["Condition"]["StringEquals"]["aws:SourceAccount"],
        json!({ "Ref": "AWS::AccountId" })
    );
    let sources = delivery["Condition"]["ArnLike"]["aws:SourceArn"]
        .as_array()
        .unwrap();
    let writable: Vec<&str> = delivery["Resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Fn::Sub"].as_str().unwrap())
        .collect();

    let mut logging = 0;
    for (id, p) in resolved(&t, "AWS::S3::Bucket", &params) {
        if id == LOG_BUCKET {
            assert!(
                p.get("LoggingConfiguration").is_none(),
                "a log bucket does not log to itself"
            );
            continue;
        }
        logging += 1;
        let config = &p["LoggingConfiguration"];
        assert_eq!(
            config["DestinationBucketName"],
            json!({ "Ref": LOG_BUCKET }),
            "{id}"
        );
        let prefix = config["LogFilePrefix"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: a prefix"));
        assert!(prefix.ends_with('/'), "{id}: {prefix}");
        assert!(
            writable.contains(&format!("${{{LOG_BUCKET}.Arn}}/{prefix}*").as_str()),
            "{id}: {prefix} not writable by the delivery: {writable:?}"
        );
        assert!(
            sources.iter().any(|s| refers_to(s, id)),
            "{id} not a source: {sources:?}"
        );
    }
    assert_eq!(sources.len(), logging, "every source a bucket of the stack");
    assert_eq!(writable.len(), logging, "a prefix per bucket");

    let log_bucket = props(&t, LOG_BUCKET);
    assert_eq!(
        log_bucket["PublicAccessBlockConfiguration"],
        json!({ "BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true })
    );
    assert_eq!(
        log_bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"],
        "BucketOwnerEnforced"
    );
    let rule = &log_bucket["LifecycleConfiguration"]["Rules"][0];
    assert_eq!(rule["Status"], "Enabled");
    assert_eq!(
        rule["ExpirationInDays"],
        json!({ "Ref": "LogRetentionInDays" })
    );
    assert!(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"].is_u64());
    assert!(rule["NoncurrentVersionExpiration"]["NoncurrentDays"].is_u64());
    assert_eq!(resource(&t, LOG_BUCKET)["DeletionPolicy"], "Retain");
}

/// The findings accepted on purpose, each skipped on its resource with its reason, as
/// checkov reads them from the translated template (the Serverless transform keeps a
/// function's Metadata on the AWS::Lambda::Function it writes). A new skip is added here
/// as deliberately as in the template.
#[test]
fn the_scans_skips_are_these_each_with_its_reason_after_the_translation() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let mut skipped = BTreeSet::new();
    for (id, r) in t["Resources"].as_object().unwrap() {
        // SAM copies a function's Metadata onto its EventInvokeConfig too, where no check
        // of these ids applies.
        if r["Type"] == "AWS::Lambda::EventInvokeConfig" {
            continue;
        }
        for skip in r["Metadata"]["checkov"]["skip"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let check = skip["id"].as_str().unwrap();
            let reason = skip["comment"].as_str().unwrap_or_default();
            assert!(
                reason.split_whitespace().count() >= 8,
                "{id} {check}: a reason, not {reason:?}"
            );
            skipped.insert(format!("{id} {check}"));
        }
    }
    let expected: BTreeSet<String> = [
        // Outside a VPC: the functions reach only AWS APIs.
        "PredictFunction CKV_AWS_117",
        "BatchFunction CKV_AWS_117",
        // No DLQ: invoked synchronously / failures to an on-failure destination.
        "PredictFunction CKV_AWS_116",
        "BatchFunction CKV_AWS_116",
        // AES256 or the key through a Fn::If checkov reads as no algorithm.
        "ModelBucket CKV_AWS_19",
        "CaptureBucket CKV_AWS_19",
        // The log bucket does not log to itself.
        "AccessLogBucket CKV_AWS_18",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(skipped, expected);
    assert_eq!(
        resource(&t, "PredictFunction")["Type"],
        "AWS::Lambda::Function"
    );
}

/// On moto, with a key and more workers: the bucket is encrypted with the key, each
/// function's reserved concurrency is applied, the log bucket and the KMS-encrypted log
/// groups, tables and queue are created.
#[tokio::test]
async fn deployed_to_moto_with_a_key_the_bucket_uses_it_and_the_functions_are_bounded() {
    venv_tool_or_skip!("python");
    let endpoint = moto_or_skip!();
    let d = deploy::deploy_to_moto(&endpoint, &[("KmsKeyArn", KEY), ("BatchWorkers", "7")])
        .await
        .unwrap();
    for id in [
        "AccessLogBucket",
        "PredictLogGroup",
        "BatchLogGroup",
        "ApiAccessLogGroup",
        "AttributesTable",
        "PredictionsTable",
        "BatchFailureQueue",
    ] {
        assert!(d.created.contains(id), "{id}: {:?}", d.created);
    }
    let clients = e2e::clients().await;
    let encryption = clients
        .s3
        .get_bucket_encryption()
        .bucket(d.name("ModelBucket"))
        .send()
        .await
        .unwrap();
    let by_default = encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules()[0]
        .apply_server_side_encryption_by_default()
        .unwrap()
        .clone();
    assert_eq!(by_default.sse_algorithm().as_str(), "aws:kms");
    assert_eq!(by_default.kms_master_key_id(), Some(KEY));
    let reserved = |id: &str| d.functions[&d.name(id)].reserved_concurrency;
    assert_eq!(reserved("PredictFunction"), Some(100));
    assert_eq!(reserved("BatchFunction"), Some(8), "BatchWorkers + 1");
}
