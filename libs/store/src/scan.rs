//! Reading the whole attribute table: a parallel scan, one segment at a time, one page per
//! call.

use std::future::Future;

use scoring::Row;

use crate::StoreError;

/// One product's attributes as the scan read them.
#[derive(Debug, Clone, PartialEq)]
pub struct ScannedRow {
    pub product_id: String,
    pub row: Row,
}

/// One page of a segment, and where the next one starts (`None`: the segment is done).
/// Tables are keyed by `product_id` alone, so a position is that id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub rows: Vec<ScannedRow>,
    pub next: Option<String>,
}

pub trait AttributeScan: Send + Sync {
    /// Page of `segment` (of `segments`) starting after `after` (`None`: from the start).
    fn page(
        &self,
        segment: u32,
        segments: u32,
        after: Option<&str>,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;
}
