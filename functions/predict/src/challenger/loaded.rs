//! A challenger that loaded: its model, its Open Inference Protocol name, whether it
//! reads the champion's rows as they are, and its metric handles.

use scoring::Model;

use super::metrics::{ChallengerMetrics, ChallengerObserver};

/// A challenger that loaded: its model, its name in the `/v2` routes, and its metrics.
pub struct Loaded {
    pub(super) model: Model,
    name: String,
    /// Whether its schema is the champion's: then it scores the champion's batch itself,
    /// without reading the rows again.
    pub(super) same_schema: bool,
    pub(super) metrics: ChallengerMetrics,
}

impl Loaded {
    /// `challenger` beside `champion`, named `name` in the Open Inference Protocol routes.
    /// Build it after the metrics recorder is installed, as the champion's telemetry.
    pub fn new(champion: &Model, challenger: Model, name: String) -> Loaded {
        Loaded {
            same_schema: challenger.schema() == champion.schema(),
            metrics: ChallengerMetrics::new(champion, &challenger),
            model: challenger,
            name,
        }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it reads the champion's batch as it is (the same features, in the same
    /// layout).
    pub fn same_schema(&self) -> bool {
        self.same_schema
    }

    /// What records the batches it scores when called directly.
    pub(crate) fn observer(&self) -> ChallengerObserver<'_> {
        ChallengerObserver(&self.metrics)
    }
}
