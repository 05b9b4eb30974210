//! Product attributes by `product_id`: GetItem.

use scoring::Row;
use store::attributes::AttributeStore;
use store::StoreError;

use super::item::{item_of, row};

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
        let item = item_of(&self.client, &self.table, product_id).await?;
        Ok(item.map(row))
    }
}
