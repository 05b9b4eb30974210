//! Creates what the functions expect to find: the model bucket (versioned, like the SAM
//! stack's), the model object, and `product_id`-keyed tables; and loads items.

use std::time::Duration;

use crate::Item;
use crate::PRODUCT_ID;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, PutRequest, ScalarAttributeType, WriteRequest,
};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use {aws_sdk_dynamodb as dynamodb, aws_sdk_s3 as s3};

fn fail(what: &str, e: impl std::error::Error) -> String {
    format!("{what}: {}", dynamodb::error::DisplayErrorContext(e))
}

pub async fn create_bucket(client: &s3::Client, bucket: &str) -> Result<(), String> {
    client
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| fail(&format!("create bucket {bucket}"), e))?;
    client
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| fail(&format!("enable versioning on {bucket}"), e))?;
    Ok(())
}

/// Uploads an object; returns its VersionId.
pub async fn put_object(
    client: &s3::Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
) -> Result<String, String> {
    let out = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(bytes))
        .send()
        .await
        .map_err(|e| fail(&format!("upload s3://{bucket}/{key}"), e))?;
    Ok(out.version_id().unwrap_or_default().to_owned())
}

/// An object's body as text.
pub async fn get_object(client: &s3::Client, bucket: &str, key: &str) -> Result<String, String> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| fail(&format!("download s3://{bucket}/{key}"), e))?;
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| format!("download s3://{bucket}/{key}: {e}"))?
        .into_bytes();
    String::from_utf8(bytes.to_vec()).map_err(|e| format!("s3://{bucket}/{key}: {e}"))
}

/// An on-demand table keyed by `product_id` (string), as in the SAM template.
pub async fn create_table(client: &dynamodb::Client, table: &str) -> Result<(), String> {
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(PRODUCT_ID)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(PRODUCT_ID)
                .key_type(KeyType::Hash)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(|e| fail(&format!("create table {table}"), e))?;
    Ok(())
}

/// The outcomes table as the template makes it: key `subject` + `observed_at`, index
/// `by_arrival` (`received_on` + `received_at`, every attribute), on demand.
pub async fn create_outcomes_table(client: &dynamodb::Client, table: &str) -> Result<(), String> {
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| e.to_string())
    };
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("subject", KeyType::Hash)?)
        .key_schema(key("observed_at", KeyType::Range)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_arrival")
                .key_schema(key("received_on", KeyType::Hash)?)
                .key_schema(key("received_at", KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|e| e.to_string())?,
        );
    for name in ["subject", "observed_at", "received_on", "received_at"] {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    request
        .send()
        .await
        .map_err(|e| fail(&format!("create table {table}"), e))?;
    Ok(())
}

/// Writes items 25 at a time, resending what DynamoDB leaves unprocessed; calls
/// `progress` with the running count.
pub async fn put_items(
    client: &dynamodb::Client,
    table: &str,
    items: &[Item],
    mut progress: impl FnMut(usize),
) -> Result<(), String> {
    let mut written = 0;
    for chunk in items.chunks(25) {
        let mut pending: Vec<WriteRequest> = chunk
            .iter()
            .map(|item| {
                let put = PutRequest::builder()
                    .set_item(Some(item.clone()))
                    .build()
                    .map_err(|e| e.to_string())?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<_, String>>()?;
        for attempt in 0.. {
            if pending.is_empty() {
                break;
            }
            if attempt == 8 {
                return Err(format!(
                    "{} items still unprocessed after 8 attempts",
                    pending.len()
                ));
            }
            let out = client
                .batch_write_item()
                .request_items(table, pending)
                .send()
                .await
                .map_err(|e| fail(&format!("write to {table}"), e))?;
            pending = out
                .unprocessed_items
                .and_then(|mut u| u.remove(table))
                .unwrap_or_default();
            if !pending.is_empty() {
                tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
            }
        }
        written += chunk.len();
        progress(written);
    }
    Ok(())
}
