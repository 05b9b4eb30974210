//! `GET /health`: which model is loaded, what it takes, and whether it explains; and,
//! when one is configured, the challenger beside it (or why it is not loaded).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use std::sync::Arc;

use scoring::{Label, Model, Space, Task};
use serde::Serialize;

use crate::challenger::Challenger;
use crate::http::json_response;

#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    model_version: &'a str,
    /// "regression" or "classification".
    task: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    classes: Option<&'a [Label]>,
    features: Vec<HealthFeature<'a>>,
    explanations: Explainability<'a>,
    /// Only when a challenger is configured: without one the answer is what it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    challenger: Option<ChallengerHealth<'a>>,
}

/// The challenger beside the model: its version, what it answers and its name in the
/// Open Inference Protocol routes; or that it is not loaded, and why.
#[derive(Serialize)]
#[serde(untagged)]
enum ChallengerHealth<'a> {
    Loaded {
        loaded: bool,
        model_name: &'a str,
        model_version: &'a str,
        task: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        classes: Option<Arc<[Label]>>,
    },
    Absent {
        loaded: bool,
        reason: &'static str,
    },
}

impl<'a> ChallengerHealth<'a> {
    fn of(challenger: &'a Challenger) -> Option<Self> {
        match challenger {
            Challenger::NotConfigured => None,
            Challenger::Loaded(loaded) => {
                let (task, classes) = task(loaded.model());
                Some(ChallengerHealth::Loaded {
                    loaded: true,
                    model_name: loaded.name(),
                    model_version: loaded.model().version(),
                    task,
                    classes,
                })
            }
            absent => Some(ChallengerHealth::Absent {
                loaded: false,
                reason: absent.why_absent().unwrap_or_default(),
            }),
        }
    }
}

/// "regression" or "classification", and a classifier's classes.
fn task(model: &Model) -> (&'static str, Option<Arc<[Label]>>) {
    match model.task() {
        Task::Regression => ("regression", None),
        Task::Classification { classes } => ("classification", Some(classes)),
    }
}

/// Whether `explain` can be asked of the model: in what space and for which classes, or
/// why not (what to add).
#[derive(Serialize)]
#[serde(untagged)]
enum Explainability<'a> {
    Available {
        available: bool,
        space: Space,
        #[serde(skip_serializing_if = "Option::is_none")]
        classes: Option<&'a [Label]>,
    },
    Unavailable {
        available: bool,
        reason: &'a str,
    },
}

impl<'a> Explainability<'a> {
    fn of(model: &'a Model) -> Self {
        match model.explainability() {
            Ok(targets) => Explainability::Available {
                available: true,
                space: targets.space,
                classes: targets.classes.as_deref(),
            },
            Err(reason) => Explainability::Unavailable {
                available: false,
                reason,
            },
        }
    }
}

#[derive(Serialize)]
struct HealthFeature<'a> {
    name: &'a str,
    /// The input's element type: float, double, int64 or string.
    #[serde(rename = "type")]
    ty: &'static str,
    /// numeric or categorical.
    kind: &'static str,
    /// Whether a null (or, in the attribute table, an absent attribute) is scored.
    accepts_missing: bool,
}

pub fn answer(model: &Model, challenger: &Challenger) -> Response<Body> {
    let (task_name, classes) = task(model);
    json_response(
        StatusCode::OK,
        &Health {
            status: "ok",
            model_version: model.version(),
            task: task_name,
            classes: classes.as_deref(),
            features: model
                .schema()
                .features()
                .iter()
                .map(|f| HealthFeature {
                    name: &f.name,
                    ty: f.ty.name(),
                    kind: f.ty.kind(),
                    accepts_missing: f.accepts_missing,
                })
                .collect(),
            explanations: Explainability::of(model),
            challenger: ChallengerHealth::of(challenger),
        },
    )
}
