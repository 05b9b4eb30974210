//! Where run summaries are kept, so the latest can be read back.

use std::future::Future;
use std::sync::Mutex;

use crate::StoreError;

pub trait RunLog: Send + Sync {
    /// Keeps `summary_json` as run `run_id`'s summary and as the latest.
    fn record(
        &self,
        run_id: &str,
        summary_json: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Summaries in memory, for tests.
#[derive(Debug, Default)]
pub struct InMemoryRunLog(pub Mutex<Vec<(String, String)>>);

impl RunLog for InMemoryRunLog {
    async fn record(&self, run_id: &str, summary_json: &str) -> Result<(), StoreError> {
        self.0
            .lock()
            .unwrap()
            .push((run_id.to_owned(), summary_json.to_owned()));
        Ok(())
    }
}
