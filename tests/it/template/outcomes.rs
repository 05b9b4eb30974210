//! The outcomes table (`POST /outcomes` writes it, the nightly run reads it): its key and
//! arrival index as the adapter uses them, encrypted (with the stack's own key when one is
//! given), recoverable, kept when the stack goes, expired after `OutcomeRetentionDays`. (The
//! route's authorization: api_auth.rs; the roles' grants: roles.rs.)

use aws_adapter::config::{DEFAULT_OUTCOME_RETENTION_DAYS, MAX_OUTCOME_RETENTION_DAYS};
use e2e::venv_tool_or_skip;
use serde_json::json;
use testkit::cloudformation::{
    evaluate, props, resource, template_path, translate, translated_with,
};

#[test]
fn the_outcomes_table_is_keyed_indexed_and_kept_as_the_adapter_reads_it() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let table = resource(&t, "OutcomesTable");
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    // Customers' data, which nothing regenerates.
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    let p = &table["Properties"];
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        p["KeySchema"],
        json!([
            { "AttributeName": "subject", "KeyType": "HASH" },
            { "AttributeName": "observed_at", "KeyType": "RANGE" }
        ])
    );
    let index = &p["GlobalSecondaryIndexes"][0];
    assert_eq!(index["IndexName"], aws_adapter::dynamodb::BY_ARRIVAL);
    assert_eq!(
        index["KeySchema"],
        json!([
            { "AttributeName": "received_on", "KeyType": "HASH" },
            { "AttributeName": "received_at", "KeyType": "RANGE" }
        ])
    );
    assert_eq!(index["Projection"]["ProjectionType"], "ALL");
    let mut defined: Vec<String> = p["AttributeDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {}",
                a["AttributeName"].as_str().unwrap(),
                a["AttributeType"].as_str().unwrap()
            )
        })
        .collect();
    defined.sort();
    assert_eq!(
        defined,
        [
            "observed_at S",
            "received_at S",
            "received_on S",
            "subject S"
        ]
    );
    assert_eq!(
        p["TimeToLiveSpecification"],
        json!({ "AttributeName": "expires_at", "Enabled": true })
    );
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(
        t["Outputs"]["OutcomesTableName"]["Value"],
        json!({ "Ref": "OutcomesTable" })
    );
}

#[test]
fn the_outcomes_table_uses_the_stacks_own_key_when_one_is_given() {
    venv_tool_or_skip!("python");
    let key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    for (given, want) in [
        ("", json!({ "SSEEnabled": true })),
        (
            key,
            json!({ "SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": key }),
        ),
    ] {
        let (t, params) = translated_with(&template_path(), &[("KmsKeyArn", given)]);
        let sse = evaluate(&props(&t, "OutcomesTable")["SSESpecification"], &t, &params);
        assert_eq!(sse, Some(want), "KmsKeyArn={given:?}");
    }
}

#[test]
fn outcome_retention_is_the_predict_functions_bounded_setting() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let parameter = &t["Parameters"]["OutcomeRetentionDays"];
    assert_eq!(parameter["Type"], "Number");
    assert_eq!(parameter["Default"], DEFAULT_OUTCOME_RETENTION_DAYS);
    assert_eq!(parameter["MinValue"], 1);
    assert_eq!(parameter["MaxValue"], MAX_OUTCOME_RETENTION_DAYS);
    let predict = &props(&t, "PredictFunction")["Environment"]["Variables"];
    assert_eq!(
        predict["OUTCOME_RETENTION_DAYS"],
        json!({ "Ref": "OutcomeRetentionDays" })
    );
    for function in ["PredictFunction", "BatchFunction"] {
        assert_eq!(
            props(&t, function)["Environment"]["Variables"]["OUTCOMES_TABLE"],
            json!({ "Ref": "OutcomesTable" }),
            "{function}"
        );
    }
}
