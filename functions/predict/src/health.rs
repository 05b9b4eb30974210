//! `GET /health`: which model is loaded, what it takes, and whether it explains.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use scoring::{Label, Model, Space, Task};
use serde::Serialize;

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

pub fn answer(model: &Model) -> Response<Body> {
    let task = model.task();
    let (task_name, classes) = match &task {
        Task::Regression => ("regression", None),
        Task::Classification { classes } => ("classification", Some(&classes[..])),
    };
    json_response(
        StatusCode::OK,
        &Health {
            status: "ok",
            model_version: model.version(),
            task: task_name,
            classes,
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
        },
    )
}
