//! What really happened, handed back by the caller (`POST /outcomes`): the sale price, the
//! wine's rated quality, whether the customer churned. Kept in the outcomes table and joined
//! by the nightly run with the predictions they refer to.

use std::future::Future;

use crate::StoreError;

/// Most outcomes in one write (BatchWriteItem's limit).
pub const MAX_WRITE: usize = 25;

/// What an outcome is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A product: joined with its stored nightly result and with captured
    /// `GET /predict/{product_id}` answers.
    Product(String),
    /// One captured request (its `request_id`) and the row of it (0 for a one-row request).
    Request { id: String, row: u32 },
}

/// The observed value: a number for a regressor, a label for a classifier (an integer label
/// may come as a number; labels are compared as text).
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    Number(f64),
    Label(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub subject: Subject,
    pub observed: Observed,
    /// When it happened (the caller's `observed_at`): RFC 3339, normalised to UTC with
    /// milliseconds (`2026-12-07T21:30:00.000Z`), so that text order is time order.
    pub observed_at: String,
    /// When it reached us: RFC 3339 UTC, milliseconds. What "arrived since the last run"
    /// is measured by.
    pub received_at: String,
}

pub trait OutcomeSink: Send + Sync {
    /// Writes up to [`MAX_WRITE`] outcomes; returns those not written this time (for the
    /// caller to resend). A later outcome for the same subject and `observed_at` replaces
    /// the earlier one.
    fn put(
        &self,
        batch: &[Outcome],
    ) -> impl Future<Output = Result<Vec<Outcome>, StoreError>> + Send;
}

pub trait OutcomeSource: Send + Sync {
    /// Every outcome received in `[since, until)` (RFC 3339 UTC, compared as text), in no
    /// particular order.
    fn arrived(
        &self,
        since: &str,
        until: &str,
    ) -> impl Future<Output = Result<Vec<Outcome>, StoreError>> + Send;
}

/// Outcomes held in memory: the tests' twin of the outcomes table.
#[derive(Debug, Default)]
pub struct MemoryOutcomes {
    pub outcomes: std::sync::Mutex<Vec<Outcome>>,
}

impl OutcomeSink for MemoryOutcomes {
    async fn put(&self, batch: &[Outcome]) -> Result<Vec<Outcome>, StoreError> {
        let mut outcomes = self.outcomes.lock().unwrap_or_else(|e| e.into_inner());
        for outcome in batch {
            outcomes.retain(|o| {
                !(o.subject == outcome.subject && o.observed_at == outcome.observed_at)
            });
            outcomes.push(outcome.clone());
        }
        Ok(Vec::new())
    }
}

impl OutcomeSource for MemoryOutcomes {
    async fn arrived(&self, since: &str, until: &str) -> Result<Vec<Outcome>, StoreError> {
        let outcomes = self.outcomes.lock().unwrap_or_else(|e| e.into_inner());
        Ok(outcomes
            .iter()
            .filter(|o| o.received_at.as_str() >= since && o.received_at.as_str() < until)
            .cloned()
            .collect())
    }
}
