//! The nightly run's results, read back for `GET /predictions/{product_id}`: the product's
//! stored item, and whether it comes from the latest *completed* run. A product tonight's
//! run rejected, or that left the attribute table, keeps the item of an earlier run: its
//! `run_id` is then not the latest completed run's, and the answer says so rather than
//! passing an old score off as tonight's.

use std::future::Future;
use std::time::{Duration, Instant};

use store::predictions::{Prediction, PredictionLookup};
use store::run_log::LatestRun;
use store::StoreError;

/// How long the latest completed run's id is kept before it is read again. Runs complete
/// once a night; a result newer than the kept id triggers an earlier read.
pub const LATEST_RUN_TTL: Duration = Duration::from_secs(60);

/// At most one early read per this long, however many newer results come by.
pub const EARLY_READ_EVERY: Duration = Duration::from_secs(1);

/// A product's stored result and the latest completed run (if any run has completed).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResult {
    pub prediction: Prediction,
    pub latest_completed_run: Option<String>,
}

impl StoredResult {
    pub fn is_current(&self) -> bool {
        self.latest_completed_run.as_deref() == Some(&*self.prediction.run_id)
    }
}

/// Where the results come from: the predictions table and the run log, or nothing.
pub trait Results: Send + Sync {
    fn lookup(
        &self,
        product_id: &str,
    ) -> impl Future<Output = Result<Option<StoredResult>, StoreError>> + Send;
}

/// For an `App` built without a results store (tests of the other routes).
pub struct NoResults;

impl Results for NoResults {
    async fn lookup(&self, _: &str) -> Result<Option<StoredResult>, StoreError> {
        Err(StoreError::refused("no predictions table is configured"))
    }
}

/// The predictions table (one GetItem per request) and the run log (read at most once a
/// minute).
pub struct NightlyResults<P, L> {
    predictions: P,
    runs: L,
    latest: tokio::sync::Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    run_id: Option<String>,
    read_at: Option<Instant>,
}

impl<P: PredictionLookup, L: LatestRun> NightlyResults<P, L> {
    pub fn new(predictions: P, runs: L) -> Self {
        NightlyResults {
            predictions,
            runs,
            latest: tokio::sync::Mutex::default(),
        }
    }

    /// The latest completed run's id, read again when kept too long, or when `seen` (a
    /// stored result's run) is newer than the kept one: run ids sort by schedule time, so
    /// a newer result means a run may have completed since.
    async fn latest_completed(&self, seen: &str) -> Result<Option<String>, StoreError> {
        let mut kept = self.latest.lock().await;
        let age = kept.read_at.map(|t| t.elapsed());
        let newer = kept.run_id.as_deref().is_none_or(|latest| seen > latest);
        let read = match age {
            None => true,
            Some(age) => age > LATEST_RUN_TTL || (newer && age > EARLY_READ_EVERY),
        };
        if read {
            kept.run_id = self.runs.latest_completed().await?;
            kept.read_at = Some(Instant::now());
        }
        Ok(kept.run_id.clone())
    }
}

impl<P: PredictionLookup, L: LatestRun> Results for NightlyResults<P, L> {
    async fn lookup(&self, product_id: &str) -> Result<Option<StoredResult>, StoreError> {
        let Some(prediction) = self.predictions.stored(product_id).await? else {
            return Ok(None);
        };
        let latest_completed_run = self.latest_completed(&prediction.run_id).await?;
        Ok(Some(StoredResult {
            prediction,
            latest_completed_run,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    struct OneItem(Prediction);

    impl PredictionLookup for OneItem {
        async fn stored(&self, id: &str) -> Result<Option<Prediction>, StoreError> {
            Ok((id == self.0.product_id).then(|| self.0.clone()))
        }
    }

    #[derive(Default)]
    struct Runs {
        latest: Mutex<Option<String>>,
        reads: AtomicUsize,
    }

    impl LatestRun for &Runs {
        async fn latest_completed(&self) -> Result<Option<String>, StoreError> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            Ok(self.latest.lock().unwrap().clone())
        }
    }

    fn item(run_id: &str) -> Prediction {
        Prediction {
            product_id: "p".into(),
            answer: scoring::Prediction::Score(1.5),
            model_version: "v".into(),
            run_id: run_id.into(),
            scored_at: "2026-11-24T02:00:05.000Z".into(),
            explanation: None,
            challenger: None,
        }
    }

    #[tokio::test]
    async fn a_result_is_current_only_if_its_run_is_the_latest_completed() {
        let runs = Runs::default();
        *runs.latest.lock().unwrap() = Some("nightly-2026-11-24T02:00:00Z".into());
        let current = NightlyResults::new(OneItem(item("nightly-2026-11-24T02:00:00Z")), &runs);
        let found = current.lookup("p").await.unwrap().unwrap();
        assert!(found.is_current());
        assert_eq!(current.lookup("q").await.unwrap(), None);

        let stale = NightlyResults::new(OneItem(item("nightly-2026-11-23T02:00:00Z")), &runs);
        let found = stale.lookup("p").await.unwrap().unwrap();
        assert!(!found.is_current());
        assert_eq!(
            found.latest_completed_run.as_deref(),
            Some("nightly-2026-11-24T02:00:00Z")
        );
    }

    #[tokio::test]
    async fn the_latest_run_is_read_once_then_kept() {
        let runs = Runs::default();
        *runs.latest.lock().unwrap() = Some("nightly-2026-11-24T02:00:00Z".into());
        let results = NightlyResults::new(OneItem(item("nightly-2026-11-24T02:00:00Z")), &runs);
        for _ in 0..5 {
            results.lookup("p").await.unwrap();
        }
        assert_eq!(runs.reads.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_result_newer_than_the_kept_run_reads_it_again_at_most_once_a_second() {
        let runs = Runs::default();
        let results = NightlyResults::new(OneItem(item("nightly-2026-11-24T02:00:00Z")), &runs);
        // No run had completed at the first read.
        let found = results.lookup("p").await.unwrap().unwrap();
        assert!(!found.is_current());
        *runs.latest.lock().unwrap() = Some("nightly-2026-11-24T02:00:00Z".into());
        results.lookup("p").await.unwrap();
        assert_eq!(runs.reads.load(Ordering::Relaxed), 1, "not within a second");
        tokio::time::sleep(EARLY_READ_EVERY + Duration::from_millis(50)).await;
        let found = results.lookup("p").await.unwrap().unwrap();
        assert!(found.is_current());
        assert_eq!(runs.reads.load(Ordering::Relaxed), 2);
    }
}
