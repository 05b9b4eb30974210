//! Product attributes by `product_id`: DynamoDB GetItem, or an in-memory map in tests.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::item::Item;

/// The attribute table's partition key.
pub const PRODUCT_ID: &str = "product_id";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reading product {product_id:?} from {table} failed: {reason}")]
pub struct StoreError {
    pub table: String,
    pub product_id: String,
    pub reason: String,
}

pub trait AttributeStore: Send + Sync {
    /// The product's item, or `None` if there is no such product.
    fn attributes(
        &self,
        product_id: &str,
    ) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send;
}

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
    async fn attributes(&self, product_id: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PRODUCT_ID, AttributeValue::S(product_id.to_owned()))
            .send()
            .await
            .map_err(|e| StoreError {
                table: self.table.clone(),
                product_id: product_id.to_owned(),
                reason: DisplayErrorContext(&e).to_string(),
            })?;
        Ok(out.item.map(Item))
    }
}

/// Items by product id, for unit tests.
#[derive(Debug, Default)]
pub struct InMemoryAttributes {
    pub items: HashMap<String, Item>,
    /// When set, every read fails with this reason.
    pub failure: Option<String>,
}

impl AttributeStore for InMemoryAttributes {
    async fn attributes(&self, product_id: &str) -> Result<Option<Item>, StoreError> {
        if let Some(reason) = &self.failure {
            return Err(StoreError {
                table: "memory".into(),
                product_id: product_id.into(),
                reason: reason.clone(),
            });
        }
        Ok(self.items.get(product_id).cloned())
    }
}
