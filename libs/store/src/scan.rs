//! Reading the whole attribute table: a parallel scan, one segment at a time, one page per
//! call.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Mutex;

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

/// Rows in memory, split into segments by a hash of their id, with scripted page
/// failures, for tests.
#[derive(Debug, Default)]
pub struct InMemoryScan {
    /// Sorted by product id.
    rows: Vec<ScannedRow>,
    page_size: usize,
    /// Each page call takes the next entry: `Some(error)` fails that call.
    pub faults: Mutex<VecDeque<Option<StoreError>>>,
}

impl InMemoryScan {
    pub fn new(mut rows: Vec<ScannedRow>, page_size: usize) -> Self {
        rows.sort_by(|a, b| a.product_id.cmp(&b.product_id));
        InMemoryScan {
            rows,
            page_size: page_size.max(1),
            faults: Default::default(),
        }
    }

    fn segment_of(id: &str, segments: u32) -> u32 {
        // FNV-1a: stable across runs, unlike std's hasher.
        let hash = id.bytes().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        });
        (hash % segments as u64) as u32
    }
}

impl AttributeScan for InMemoryScan {
    async fn page(
        &self,
        segment: u32,
        segments: u32,
        after: Option<&str>,
    ) -> Result<Page, StoreError> {
        if let Some(Some(failure)) = self.faults.lock().unwrap().pop_front() {
            return Err(failure);
        }
        let mut rows = self
            .rows
            .iter()
            .filter(|r| {
                Self::segment_of(&r.product_id, segments) == segment
                    && after.is_none_or(|a| r.product_id.as_str() > a)
            })
            .take(self.page_size + 1)
            .cloned()
            .collect::<Vec<_>>();
        let next = if rows.len() > self.page_size {
            rows.truncate(self.page_size);
            rows.last().map(|r| r.product_id.clone())
        } else {
            None
        };
        Ok(Page { rows, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn segments_partition_the_rows_and_pages_cover_each_once() {
        let rows = (0..103)
            .map(|i| ScannedRow {
                product_id: format!("p{i:03}"),
                row: Row::default(),
            })
            .collect();
        let scan = InMemoryScan::new(rows, 10);
        let mut seen = Vec::new();
        for segment in 0..4 {
            let mut after = None;
            loop {
                let page = scan.page(segment, 4, after.as_deref()).await.unwrap();
                assert!(page.rows.len() <= 10);
                seen.extend(page.rows.into_iter().map(|r| r.product_id));
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        seen.sort();
        assert_eq!(seen.len(), 103);
        seen.dedup();
        assert_eq!(seen.len(), 103);
    }
}
