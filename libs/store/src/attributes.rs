//! Product attributes by `product_id`.

use std::collections::HashMap;
use std::future::Future;

use scoring::Row;

use crate::StoreError;

pub trait AttributeStore: Send + Sync {
    /// The product's attributes, or `None` if there is no such product.
    fn attributes(
        &self,
        product_id: &str,
    ) -> impl Future<Output = Result<Option<Row>, StoreError>> + Send;
}

/// Rows by product id, for tests.
#[derive(Debug, Default)]
pub struct InMemoryAttributes {
    pub rows: HashMap<String, Row>,
    /// When set, every read fails with this error.
    pub failure: Option<StoreError>,
}

impl AttributeStore for InMemoryAttributes {
    async fn attributes(&self, product_id: &str) -> Result<Option<Row>, StoreError> {
        match &self.failure {
            Some(e) => Err(e.clone()),
            None => Ok(self.rows.get(product_id).cloned()),
        }
    }
}
