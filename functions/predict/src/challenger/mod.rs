//! The challenger: a second model loaded beside the champion at cold start
//! (`CHALLENGER_MODEL_KEY`), which scores every row the champion answers ([`Shadow`]) so
//! the two can be compared in the metrics, while callers get the champion's answer,
//! unchanged. It can be called directly (`?model=challenger`, or the Open Inference
//! Protocol name `{MODEL_NAME}-challenger`). A challenger that failed to load leaves the
//! champion serving alone: the function says so, and why, but never fails for it.

mod loaded;
mod metrics;
mod shadow;

pub use loaded::Loaded;
pub(crate) use metrics::ChallengerObserver;
pub use shadow::{ChallengerAnswers, Shadow};

use crate::http::ApiError;

/// The challenger, or why there is none.
pub enum Challenger {
    /// No challenger configured: the function is what it was before challengers.
    NotConfigured,
    /// One was configured but could not be fetched or built at cold start (the reason is
    /// in the log, with the `ChallengerLoadFailed` metric).
    FailedToLoad,
    Loaded(Box<Loaded>),
}

impl Challenger {
    pub fn loaded(&self) -> Option<&Loaded> {
        match self {
            Challenger::Loaded(loaded) => Some(loaded),
            _ => None,
        }
    }

    /// The challenger, for a request that asks for it by name; 404 saying why there is
    /// none (no internals: the load's reason is in the log).
    pub fn asked(&self) -> Result<&Loaded, ApiError> {
        match self {
            Challenger::Loaded(loaded) => Ok(loaded),
            absent => Err(ApiError::not_found(format!(
                "no challenger is loaded: {}",
                absent.why_absent().unwrap_or_default()
            ))),
        }
    }

    /// Why no challenger is loaded, in words for callers; `None` when one is.
    pub fn why_absent(&self) -> Option<&'static str> {
        match self {
            Challenger::NotConfigured => Some("none is configured for this function"),
            Challenger::FailedToLoad => Some(
                "the challenger configured failed to load at cold start (the reason is in the \
                 function's log); the champion serves alone",
            ),
            Challenger::Loaded(_) => None,
        }
    }

    /// The challenger's run beside the champion, on a request the champion answers.
    pub fn shadow<'a>(&'a self, request_id: Option<&'a str>) -> Option<Shadow<'a>> {
        self.loaded()
            .map(|challenger| Shadow::new(challenger, request_id))
    }
}
