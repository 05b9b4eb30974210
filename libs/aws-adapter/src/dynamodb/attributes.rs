//! Product attributes by `product_id`: GetItem.

use aws_sdk_dynamodb::types::AttributeValue;
use scoring::Row;
use store::attributes::AttributeStore;
use store::{StoreError, PRODUCT_ID};

use crate::errors::store_error;

pub struct DynamoDbAttributes {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoDbAttributes {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoDbAttributes {
            client,
            table: table.into(),
        }
    }
}

impl AttributeStore for DynamoDbAttributes {
    async fn attributes(&self, product_id: &str) -> Result<Option<Row>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PRODUCT_ID, AttributeValue::S(product_id.to_owned()))
            .send()
            .await
            .map_err(|e| store_error(&format!("GetItem on table {}", self.table), e))?;
        Ok(out.item.map(super::row))
    }
}
