//! Reading the whole attribute table: DynamoDB's parallel Scan, one segment at a time, one
//! page per call, projecting only the attributes the model reads.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::attributes::PRODUCT_ID;
use crate::item::Item;
use crate::retry::Failure;

/// One page of a segment, and where the next one starts (`None`: the segment is done).
/// Tables here are keyed by `product_id` alone, so a position is that id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<String>,
}

pub trait AttributeScan: Send + Sync {
    /// Page of `segment` (of `segments`) starting after `after` (`None`: from the start).
    fn page(
        &self,
        segment: u32,
        segments: u32,
        after: Option<&str>,
    ) -> impl Future<Output = Result<Page, Failure>> + Send;
}

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
}

impl AttributeScan for DynamoDbScan {
    async fn page(
        &self,
        segment: u32,
        segments: u32,
        after: Option<&str>,
    ) -> Result<Page, Failure> {
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
                Failure::classify(
                    e.code(),
                    format!("scan of {} failed: {}", self.table, DisplayErrorContext(&e)),
                )
            })?;
        let next = match out.last_evaluated_key {
            None => None,
            Some(key) => Some(
                key.get(PRODUCT_ID)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .ok_or_else(|| {
                        Failure::fatal(format!("{} is not keyed by {PRODUCT_ID} (S)", self.table))
                    })?,
            ),
        };
        Ok(Page {
            items: out
                .items
                .unwrap_or_default()
                .into_iter()
                .map(Item)
                .collect(),
            next,
        })
    }
}

/// Items in memory, split into segments by a hash of their id, with scripted page faults,
/// for unit tests.
#[derive(Debug, Default)]
pub struct InMemoryScan {
    /// Sorted by product id.
    items: Vec<Item>,
    page_size: usize,
    /// Each page call takes the next entry: `Some(failure)` fails that call.
    pub faults: std::sync::Mutex<std::collections::VecDeque<Option<Failure>>>,
}

impl InMemoryScan {
    pub fn new(mut items: Vec<Item>, page_size: usize) -> Self {
        items.sort_by(|a, b| a.string(PRODUCT_ID).cmp(&b.string(PRODUCT_ID)));
        InMemoryScan {
            items,
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
    ) -> Result<Page, Failure> {
        if let Some(Some(failure)) = self.faults.lock().unwrap().pop_front() {
            return Err(failure);
        }
        let mut items = self
            .items
            .iter()
            .filter(|i| {
                let id = i.string(PRODUCT_ID).unwrap_or_default();
                Self::segment_of(id, segments) == segment && after.is_none_or(|a| id > a)
            })
            .take(self.page_size + 1)
            .cloned()
            .collect::<Vec<_>>();
        let next = if items.len() > self.page_size {
            items.truncate(self.page_size);
            items
                .last()
                .and_then(|i| i.string(PRODUCT_ID))
                .map(str::to_owned)
        } else {
            None
        };
        Ok(Page { items, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str) -> Item {
        Item(HashMap::from([(
            PRODUCT_ID.to_owned(),
            AttributeValue::S(id.to_owned()),
        )]))
    }

    #[tokio::test]
    async fn segments_partition_the_items_and_pages_cover_each_once() {
        let items: Vec<Item> = (0..103).map(|i| item(&format!("p{i:03}"))).collect();
        let scan = InMemoryScan::new(items, 10);
        let mut seen = Vec::new();
        for segment in 0..4 {
            let mut after = None;
            loop {
                let page = scan.page(segment, 4, after.as_deref()).await.unwrap();
                assert!(page.items.len() <= 10);
                seen.extend(
                    page.items
                        .iter()
                        .map(|i| i.string(PRODUCT_ID).unwrap().to_owned()),
                );
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
