//! Product attributes by `product_id`.

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
