//! In-memory twins of the store traits, for tests and benches: the same contracts as the
//! AWS adapters, with scripted faults.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use scoring::Row;
use store::attributes::AttributeStore;
use store::orchestrator::{Orchestrator, Started};
use store::predictions::{Prediction, PredictionLookup, PredictionSink};
use store::run_log::{LatestRun, RunLog};
use store::scan::{AttributeScan, Page, ScannedRow};
use store::StoreError;

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

/// Predictions kept in memory, with scripted faults, for tests.
#[derive(Debug, Default)]
pub struct InMemoryPredictions {
    pub items: Mutex<HashMap<String, Prediction>>,
    /// Each call takes the next fault, if any.
    pub faults: Mutex<VecDeque<Fault>>,
    pub calls: Mutex<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Leaves the last n of the batch unwritten.
    Unprocessed(usize),
    /// Fails the whole call.
    Fail(StoreError),
}

impl InMemoryPredictions {
    pub fn with_faults(faults: impl IntoIterator<Item = Fault>) -> Self {
        InMemoryPredictions {
            faults: Mutex::new(faults.into_iter().collect()),
            ..Default::default()
        }
    }

    pub fn snapshot(&self) -> HashMap<String, Prediction> {
        self.items.lock().unwrap().clone()
    }
}

impl PredictionSink for InMemoryPredictions {
    async fn write(&self, batch: &[Prediction]) -> Result<Vec<Prediction>, StoreError> {
        *self.calls.lock().unwrap() += 1;
        let fault = self.faults.lock().unwrap().pop_front();
        let written = match fault {
            Some(Fault::Fail(e)) => return Err(e),
            Some(Fault::Unprocessed(n)) => batch.len().saturating_sub(n),
            None => batch.len(),
        };
        let mut items = self.items.lock().unwrap();
        for p in &batch[..written] {
            items.insert(p.product_id.clone(), p.clone());
        }
        Ok(batch[written..].to_vec())
    }
}

impl PredictionLookup for InMemoryPredictions {
    async fn stored(&self, product_id: &str) -> Result<Option<Prediction>, StoreError> {
        Ok(self.items.lock().unwrap().get(product_id).cloned())
    }
}

/// Summaries in memory, for tests; and each run's accuracy, by run id.
#[derive(Debug, Default)]
pub struct InMemoryRunLog(
    pub Mutex<Vec<(String, String)>>,
    pub Mutex<SliceLog>,
    pub Mutex<HashMap<String, String>>,
);

/// Slices' figures by run id and slice.
pub type SliceLog = HashMap<(String, u32), String>;

impl RunLog for InMemoryRunLog {
    async fn record(&self, run_id: &str, summary_json: &str) -> Result<(), StoreError> {
        self.0
            .lock()
            .unwrap()
            .push((run_id.to_owned(), summary_json.to_owned()));
        Ok(())
    }

    async fn record_slice(&self, run_id: &str, slice: u32, json: &str) -> Result<(), StoreError> {
        self.1
            .lock()
            .unwrap()
            .insert((run_id.to_owned(), slice), json.to_owned());
        Ok(())
    }

    async fn slice(&self, run_id: &str, slice: u32) -> Result<Option<String>, StoreError> {
        Ok(self
            .1
            .lock()
            .unwrap()
            .get(&(run_id.to_owned(), slice))
            .cloned())
    }

    async fn record_accuracy(&self, run_id: &str, json: &str) -> Result<(), StoreError> {
        self.2
            .lock()
            .unwrap()
            .insert(run_id.to_owned(), json.to_owned());
        Ok(())
    }

    async fn accuracy(&self, run_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.2.lock().unwrap().get(run_id).cloned())
    }

    async fn latest(&self) -> Result<Option<String>, StoreError> {
        Ok(self.0.lock().unwrap().last().map(|(_, json)| json.clone()))
    }
}

/// The latest recorded run is the latest completed one, as in the S3 run log.
impl LatestRun for InMemoryRunLog {
    async fn latest_completed(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .last()
            .map(|(run_id, _)| run_id.clone()))
    }
}

/// Records the runs it is asked to start instead of starting them, for tests (which then
/// run the plan themselves); a name asked for again is already started, as in Step
/// Functions.
#[derive(Debug, Default)]
pub struct RecordedStarts(pub Mutex<Vec<(String, String)>>);

impl RecordedStarts {
    /// The inputs of the runs started so far, oldest first.
    pub fn inputs(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, input)| input.clone())
            .collect()
    }
}

impl Orchestrator for RecordedStarts {
    async fn start_run(&self, name: &str, input: String) -> Result<Started, StoreError> {
        let mut started = self.0.lock().unwrap();
        let already_started = started.iter().any(|(n, _)| n == name);
        if !already_started {
            started.push((name.to_owned(), input));
        }
        Ok(Started {
            execution: format!("local:{name}"),
            already_started,
        })
    }
}
