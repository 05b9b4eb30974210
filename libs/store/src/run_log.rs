//! Where run summaries are kept, so the latest can be read back.

use std::future::Future;

use crate::StoreError;

pub trait RunLog: Send + Sync {
    /// Keeps `summary_json` as run `run_id`'s summary and as the latest.
    fn record(
        &self,
        run_id: &str,
        summary_json: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Which run last completed: what makes a stored result current or stale.
pub trait LatestRun: Send + Sync {
    /// The id of the latest completed run, or `None` if none has completed.
    fn latest_completed(&self) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
}
