//! The nightly join's reading: the outcomes that arrived in a window, the stored nightly
//! results of their products (many at once), and the captures from a few days before the
//! earliest of them; then [`crate::matching`] pairs them up. Behind an object-safe trait so
//! the job holds it (or not) without another type parameter.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Duration, Utc};
use scoring::accuracy::AccuracyTally;
use store::capture::CaptureSource;
use store::outcomes::{OutcomeSource, Subject};
use store::predictions::PredictionLookup;
use store::StoreError;

use crate::matching;
use crate::run::rfc3339;

/// What a join found: the outcomes that arrived, and their pairs tallied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Joined {
    pub outcomes: u64,
    pub tally: AccuracyTally,
}

pub type JoinFuture<'a> = Pin<Box<dyn Future<Output = Result<Joined, StoreError>> + Send + 'a>>;

/// The nightly join, as the job holds it.
pub trait AccuracyJoin: Send + Sync {
    /// Joins the outcomes received in `[since, until)` (RFC 3339 UTC).
    fn join<'a>(&'a self, since: &'a str, until: &'a str) -> JoinFuture<'a>;

    /// Where the window starts when no earlier run says where the last one ended.
    fn first_since(&self, now: DateTime<Utc>) -> String;
}

/// The join over the store ports: outcomes, captures (`None`: not configured, and a
/// request's outcome cannot be joined), and the stored nightly results.
pub struct OutcomeJoin<O, C, P> {
    pub outcomes: O,
    pub captures: Option<C>,
    pub predictions: P,
    /// How far before the earliest outcome captures are read; also how far back the
    /// first window reaches.
    pub lookback_days: u32,
}

impl<O: OutcomeSource, C: CaptureSource, P: PredictionLookup> OutcomeJoin<O, C, P> {
    async fn run(&self, since: &str, until: &str) -> Result<Joined, StoreError> {
        let outcomes = self.outcomes.arrived(since, until).await?;
        if outcomes.is_empty() {
            return Ok(Joined::default());
        }
        let mut products: Vec<String> = outcomes
            .iter()
            .filter_map(|o| match &o.subject {
                Subject::Product(id) => Some(id.clone()),
                Subject::Request { .. } => None,
            })
            .collect();
        products.sort_unstable();
        products.dedup();
        // The stored results and the captures are read at once: neither needs the other.
        let stored = async {
            if products.is_empty() {
                Ok(Vec::new())
            } else {
                self.predictions.stored_many(&products).await
            }
        };
        let captures = async {
            let Some(source) = &self.captures else {
                return Ok(None);
            };
            let earliest = outcomes
                .iter()
                .map(|o| o.observed_at.as_str())
                .min()
                .unwrap_or(since);
            let from = DateTime::parse_from_rfc3339(earliest)
                .map(|t| rfc3339(t.with_timezone(&Utc) - self.lookback()))
                .map_err(|e| {
                    StoreError::refused(format!("an outcome's observed_at {earliest:?}: {e}"))
                })?;
            let read = source.captured_since(&from).await?;
            if read.unreadable > 0 {
                tracing::warn!(
                    unreadable = read.unreadable,
                    "capture lines that are not captures were skipped"
                );
            }
            Ok(Some(read.requests))
        };
        let (stored, captures) = futures_util::future::try_join(stored, captures).await?;
        Ok(Joined {
            outcomes: outcomes.len() as u64,
            tally: matching::tally(&outcomes, &stored, captures.as_deref()),
        })
    }

    fn lookback(&self) -> Duration {
        Duration::days(i64::from(self.lookback_days))
    }
}

impl<O, C, P> AccuracyJoin for OutcomeJoin<O, C, P>
where
    O: OutcomeSource,
    C: CaptureSource,
    P: PredictionLookup,
{
    fn join<'a>(&'a self, since: &'a str, until: &'a str) -> JoinFuture<'a> {
        Box::pin(self.run(since, until))
    }

    fn first_since(&self, now: DateTime<Utc>) -> String {
        rfc3339(now - self.lookback())
    }
}
