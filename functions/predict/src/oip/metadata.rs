//! The model's metadata: its inputs (one per feature, or its matrix), its outputs, the
//! class order, and, for a model that explains, the `contributions` output's layout.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use scoring::Task;

use super::protocol::{
    datatype_of, label_datatype, matrix_input, ModelMetadata, Served, Shape, TensorMetadata,
    TensorParameters, CONTRIBUTIONS, PLATFORM, PREDICT, PREDICT_PROBA,
};
use crate::http::json_response;

impl Served<'_> {
    pub(super) fn metadata(&self) -> Response<Body> {
        let schema = self.model.schema();
        let inputs = match matrix_input(schema) {
            Some(name) => vec![TensorMetadata {
                name,
                datatype: datatype_of(schema.features()[0].ty),
                shape: Shape::Two([-1, schema.len() as i64]),
                parameters: Some(TensorParameters {
                    feature_names: Some(schema.names()),
                    ..TensorParameters::default()
                }),
            }],
            None => schema
                .features()
                .iter()
                .map(|f| TensorMetadata {
                    name: &f.name,
                    datatype: datatype_of(f.ty),
                    shape: Shape::Two([-1, 1]),
                    parameters: None,
                })
                .collect(),
        };
        let task = self.model.task();
        let mut outputs = match &task {
            Task::Regression => vec![TensorMetadata {
                name: PREDICT,
                datatype: "FP32",
                shape: Shape::Two([-1, 1]),
                parameters: None,
            }],
            Task::Classification { classes } => vec![
                TensorMetadata {
                    name: PREDICT,
                    datatype: label_datatype(classes),
                    shape: Shape::Two([-1, 1]),
                    parameters: None,
                },
                TensorMetadata {
                    name: PREDICT_PROBA,
                    datatype: "FP32",
                    shape: Shape::Two([-1, classes.len() as i64]),
                    parameters: Some(TensorParameters {
                        classes: Some(classes),
                        ..TensorParameters::default()
                    }),
                },
            ],
        };
        // Listed, with its layout, where the model can explain; answered only when asked.
        if let Ok(targets) = self.model.explainability() {
            let features = targets.features.len() as i64;
            outputs.push(TensorMetadata {
                name: CONTRIBUTIONS,
                datatype: "FP64",
                shape: match targets.n_targets() {
                    1 => Shape::Two([-1, features]),
                    n => Shape::Three([-1, n as i64, features]),
                },
                parameters: Some(TensorParameters {
                    space: Some(targets.space),
                    feature_names: Some(&targets.features),
                    classes: targets.classes.as_deref(),
                    base_values: Some(&targets.base_values),
                }),
            });
        }
        json_response(
            StatusCode::OK,
            &ModelMetadata {
                name: self.name,
                versions: [self.model.version()],
                platform: PLATFORM,
                inputs,
                outputs,
            },
        )
    }
}
