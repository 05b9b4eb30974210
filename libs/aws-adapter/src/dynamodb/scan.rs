//! Reading the whole attribute table: parallel Scan, one page per call, projecting only
//! the attributes the model reads.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use store::scan::{AttributeScan, Page, ScannedRow};
use store::{StoreError, PRODUCT_ID};

use crate::errors::store_error;

use super::item::{row, Item};

pub struct DynamoDbScan {
    client: aws_sdk_dynamodb::Client,
    table: String,
    projection: String,
    names: HashMap<String, String>,
    page_size: Option<i32>,
}

impl DynamoDbScan {
    /// Scans `table`, reading only `product_id` and `attributes`.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        attributes: &[String],
    ) -> Self {
        // Placeholders, since feature names may be DynamoDB reserved words.
        let mut names = HashMap::from([("#id".to_owned(), PRODUCT_ID.to_owned())]);
        let mut projection = vec!["#id".to_owned()];
        for (i, a) in attributes.iter().enumerate() {
            names.insert(format!("#a{i}"), a.clone());
            projection.push(format!("#a{i}"));
        }
        DynamoDbScan {
            client,
            table: table.into(),
            projection: projection.join(", "),
            names,
            page_size: None,
        }
    }

    /// Caps items per page (DynamoDB's own cap is 1 MB of data).
    pub fn with_page_size(mut self, items: i32) -> Self {
        self.page_size = Some(items);
        self
    }

    fn not_keyed(&self) -> StoreError {
        StoreError::refused(format!(
            "table {} is not keyed by {PRODUCT_ID} (S)",
            self.table
        ))
    }
}

impl AttributeScan for DynamoDbScan {
    async fn page(
        &self,
        segment: u32,
        segments: u32,
        after: Option<&str>,
    ) -> Result<Page, StoreError> {
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .segment(segment as i32)
            .total_segments(segments as i32)
            .projection_expression(&self.projection)
            .set_expression_attribute_names(Some(self.names.clone()))
            .set_limit(self.page_size)
            .set_exclusive_start_key(after.map(|id| {
                HashMap::from([(PRODUCT_ID.to_owned(), AttributeValue::S(id.to_owned()))])
            }))
            .send()
            .await
            .map_err(|e| {
                store_error(
                    &format!("Scan of table {} (segment {segment})", self.table),
                    e,
                )
            })?;
        let next = match out.last_evaluated_key {
            None => None,
            Some(mut key) => match key.remove(PRODUCT_ID) {
                Some(AttributeValue::S(id)) => Some(id),
                _ => return Err(self.not_keyed()),
            },
        };
        let rows = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| scanned_row(item).ok_or_else(|| self.not_keyed()))
            .collect::<Result<_, _>>()?;
        Ok(Page { rows, next })
    }
}

/// A scanned item as the domain's row, its id taken out; `None` without a string id.
pub fn scanned_row(mut item: Item) -> Option<ScannedRow> {
    match item.remove(PRODUCT_ID)? {
        AttributeValue::S(product_id) => Some(ScannedRow {
            product_id,
            row: row(item),
        }),
        _ => None,
    }
}
