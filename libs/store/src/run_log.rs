//! Where run summaries are kept, so the latest can be read back; and where each slice of a
//! fanned-out run leaves its figures for the step that sums them.

use std::future::Future;

use crate::StoreError;

pub trait RunLog: Send + Sync {
    /// Keeps `summary_json` as run `run_id`'s summary and as the latest.
    fn record(
        &self,
        run_id: &str,
        summary_json: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Keeps what slice `slice` of run `run_id` counted, replacing an earlier attempt's.
    fn record_slice(
        &self,
        run_id: &str,
        slice: u32,
        json: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// What [`record_slice`](Self::record_slice) kept, or `None` if nothing was.
    fn slice(
        &self,
        run_id: &str,
        slice: u32,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Keeps the accuracy the planning step of run `run_id` computed, for its finish step.
    fn record_accuracy(
        &self,
        run_id: &str,
        json: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// What [`record_accuracy`](Self::record_accuracy) kept, or `None` if nothing was.
    fn accuracy(
        &self,
        run_id: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// The summary of the latest completed run (as recorded), or `None` if none completed.
    fn latest(&self) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
}

/// Which run last completed: what makes a stored result current or stale.
pub trait LatestRun: Send + Sync {
    /// The id of the latest completed run, or `None` if none has completed.
    fn latest_completed(&self) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
}
