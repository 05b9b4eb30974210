//! The challenger's metric handles, per pair of versions (`ChampionVersion`,
//! `ChallengerVersion`), each registered with the recorder at its first use and kept, as
//! the champion's are ([`crate::telemetry`]): a request only adds to them. None of them is
//! a champion metric: the canary alarm's counts never see the challenger's rows.

use std::sync::OnceLock;

use metrics::{counter, histogram, Counter, Histogram};
use scoring::{Batch, Model, Observer, Scored, Task};

use crate::telemetry::names::*;
use crate::telemetry::{record_answers, CHALLENGER_VERSION, CHAMPION_VERSION};

pub(super) struct ChallengerMetrics {
    champion: String,
    challenger: String,
    rows_scored: OnceLock<Counter>,
    /// Per pair of versions, and with `FunctionName` only (the optional alarm's).
    rows_compared: OnceLock<[Counter; 2]>,
    labels_disagreed: OnceLock<[Counter; 2]>,
    errors: OnceLock<Counter>,
    abs_difference: OnceLock<Histogram>,
    score: OnceLock<Histogram>,
    /// Per class, in the challenger's class order.
    labels: Vec<OnceLock<Counter>>,
}

impl ChallengerMetrics {
    pub(super) fn new(champion: &Model, challenger: &Model) -> ChallengerMetrics {
        let classes = match challenger.task() {
            Task::Regression => 0,
            Task::Classification { classes } => classes.len(),
        };
        ChallengerMetrics {
            champion: champion.version().to_owned(),
            challenger: challenger.version().to_owned(),
            rows_scored: OnceLock::new(),
            rows_compared: OnceLock::new(),
            labels_disagreed: OnceLock::new(),
            errors: OnceLock::new(),
            abs_difference: OnceLock::new(),
            score: OnceLock::new(),
            labels: (0..classes).map(|_| OnceLock::new()).collect(),
        }
    }

    fn pair(&self) -> [(&'static str, String); 2] {
        [
            (CHAMPION_VERSION, self.champion.clone()),
            (CHALLENGER_VERSION, self.challenger.clone()),
        ]
    }

    /// Rows both models answered, and of those the classifiers' rows whose labels differ.
    pub(super) fn compared(&self, rows: u64, disagreed: u64) {
        if rows > 0 {
            let [pair, all] = self.rows_compared.get_or_init(|| {
                [
                    counter!(CHALLENGER_ROWS_COMPARED, &self.pair()),
                    counter!(CHALLENGER_ROWS_COMPARED),
                ]
            });
            pair.increment(rows);
            all.increment(rows);
        }
        if disagreed > 0 {
            let [pair, all] = self.labels_disagreed.get_or_init(|| {
                [
                    counter!(CHALLENGER_LABELS_DISAGREED, &self.pair()),
                    counter!(CHALLENGER_LABELS_DISAGREED),
                ]
            });
            pair.increment(disagreed);
            all.increment(disagreed);
        }
    }

    /// Rows the champion answered and the challenger did not.
    pub(super) fn errors(&self, rows: u64) {
        if rows > 0 {
            self.errors
                .get_or_init(|| counter!(CHALLENGER_ERRORS, &self.pair()))
                .increment(rows);
        }
    }

    /// The histogram of the absolute differences between the two answers.
    pub(super) fn abs_difference(&self) -> &Histogram {
        self.abs_difference
            .get_or_init(|| histogram!(CHALLENGER_ABS_DIFFERENCE, &self.pair()))
    }
}

/// Sees each batch the challenger scores (beside the champion, or called directly): the
/// rows it answered, its scores or labels.
pub(crate) struct ChallengerObserver<'a>(pub(super) &'a ChallengerMetrics);

impl Observer for ChallengerObserver<'_> {
    fn scored(&mut self, _: &Batch, scored: &Scored) {
        let m = self.0;
        let rows = scored.answered() as u64;
        if rows > 0 {
            m.rows_scored
                .get_or_init(|| counter!(CHALLENGER_ROWS_SCORED, &m.pair()))
                .increment(rows);
        }
        record_answers(
            scored,
            || {
                m.score
                    .get_or_init(|| histogram!(CHALLENGER_SCORE, &m.pair()))
            },
            |class, label| {
                m.labels[class].get_or_init(|| {
                    let [champion, challenger] = m.pair();
                    counter!(
                        CHALLENGER_PREDICTED_LABEL,
                        &[champion, challenger, ("Label", label.to_string())]
                    )
                })
            },
        );
    }
}
