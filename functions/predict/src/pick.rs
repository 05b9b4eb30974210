//! Which model answers a scoring request: the champion, with its metrics and the
//! challenger's shadow, unless the request names the challenger (`?model=challenger`, or
//! its Open Inference Protocol name), which then answers alone, with its own metrics.

use scoring::{Batch, Model, Observer, Scored};

use crate::capture::Capturing;
use crate::challenger::{Challenger, ChallengerObserver, Shadow};
use crate::http::{query, ApiError};
use crate::oip::Served;
use crate::routes::OipRoute;
use crate::telemetry::{ScoreMetrics, Telemetry};

/// The values `model` takes in the query string.
const MODEL_VALUES: &str = "champion or challenger";

/// Which model a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Champion,
    Challenger,
}

/// The model the query string asks for: `model=champion|challenger`, given once (the
/// champion when absent); any other value is a 400 naming the allowed ones.
pub fn model_asked(query: Option<&str>) -> Result<Choice, ApiError> {
    let words = [
        ("champion", Choice::Champion),
        ("challenger", Choice::Challenger),
    ];
    query::one_of(query, "model", &words, Choice::Champion, MODEL_VALUES)
}

/// What sees the batches of a request: the champion's metrics, or the challenger's.
pub enum Observed<'a> {
    Champion(ScoreMetrics<'a>),
    Challenger(ChallengerObserver<'a>),
}

impl Observer for Observed<'_> {
    fn scored(&mut self, batch: &Batch, scored: &Scored) {
        match self {
            Observed::Champion(o) => o.scored(batch, scored),
            Observed::Challenger(o) => o.scored(batch, scored),
        }
    }
}

/// The model that answers, what observes its scoring, the challenger's run beside it
/// (only when the champion answers), and the request's capture, when it is sampled.
pub struct Pick<'a> {
    pub model: &'a Model,
    pub observer: Observed<'a>,
    pub shadow: Option<Shadow<'a>>,
    pub capture: Option<Capturing<'a>>,
}

/// The champion and its challenger, as a request finds them.
pub struct Models<'a> {
    pub champion: &'a Model,
    pub champion_name: &'a str,
    pub telemetry: &'a Telemetry,
    pub challenger: &'a Challenger,
    pub request_id: Option<&'a str>,
    pub capture: Option<Capturing<'a>>,
}

impl<'a> Models<'a> {
    /// The model `choice` names; 404 for the challenger when none is loaded.
    pub fn pick(&self, choice: Choice) -> Result<Pick<'a>, ApiError> {
        Ok(match choice {
            Choice::Champion => Pick {
                model: self.champion,
                observer: Observed::Champion(self.telemetry.observer(self.champion)),
                shadow: self.challenger.shadow(self.request_id),
                capture: self.capture,
            },
            Choice::Challenger => {
                let challenger = self.challenger.asked()?;
                Pick {
                    model: challenger.model(),
                    observer: Observed::Challenger(challenger.observer()),
                    shadow: None,
                    capture: self.capture,
                }
            }
        })
    }

    /// The model an Open Inference Protocol route names: the challenger by its name, when
    /// one is loaded; else the champion (which answers a name it does not have with 404).
    pub fn served(&self, route: &OipRoute<'_>) -> (Served<'a>, Observed<'a>) {
        let named = match route {
            OipRoute::ModelMetadata(m) | OipRoute::ModelReady(m) | OipRoute::Infer(m) => {
                Some(&*m.name)
            }
            OipRoute::ServerLive | OipRoute::ServerReady | OipRoute::ServerMetadata => None,
        };
        match self.challenger.loaded() {
            Some(challenger) if named == Some(challenger.name()) => (
                Served {
                    model: challenger.model(),
                    name: challenger.name(),
                    shadow: None,
                    capture: self.capture,
                },
                Observed::Challenger(challenger.observer()),
            ),
            _ => (
                Served {
                    model: self.champion,
                    name: self.champion_name,
                    shadow: self.challenger.shadow(self.request_id),
                    capture: self.capture,
                },
                Observed::Champion(self.telemetry.observer(self.champion)),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::StatusCode;

    #[test]
    fn model_in_the_query() {
        for (query, asked) in [
            (None, Choice::Champion),
            (Some(""), Choice::Champion),
            (Some("model=champion"), Choice::Champion),
            (Some("model=challenger"), Choice::Challenger),
            (Some("explain=true&model=challenger"), Choice::Challenger),
            (Some("%6Dodel=%63hallenger"), Choice::Challenger),
            (
                Some("model=challenger&model=challenger"),
                Choice::Challenger,
            ),
            (Some("models=x&x=model"), Choice::Champion),
        ] {
            assert_eq!(model_asked(query), Ok(asked), "{query:?}");
        }
        for query in [
            "model=shadow",
            "model",
            "model=",
            "model=Challenger",
            "model=champion&model=challenger",
        ] {
            let e = model_asked(Some(query)).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{query}");
            assert!(
                e.message.contains("champion or challenger"),
                "{query}: {}",
                e.message
            );
        }
    }
}
