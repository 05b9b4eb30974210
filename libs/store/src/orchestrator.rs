//! Handing a planned run to the engine that runs its slices (Step Functions on AWS): the
//! run is started once under its name, however often the start is asked for.

use std::future::Future;

use crate::StoreError;

/// A started run: which execution runs it, and whether it was already running (or ran).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub execution: String,
    /// The name was taken: a repeated delivery of the same night's event started nothing.
    pub already_started: bool,
}

pub trait Orchestrator: Send + Sync {
    /// Starts the run named `name` with `input` (the plan, as JSON).
    fn start_run(
        &self,
        name: &str,
        input: String,
    ) -> impl Future<Output = Result<Started, StoreError>> + Send;
}
