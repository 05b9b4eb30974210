//! The model's metadata: its inputs (one per feature, or its matrix), its outputs, the
//! class order.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use scoring::Task;

use super::protocol::{
    datatype_of, label_datatype, matrix_input, ModelMetadata, Served, TensorMetadata,
    TensorParameters, PLATFORM, PREDICT, PREDICT_PROBA,
};
use crate::http::json_response;

impl Served<'_> {
    pub(super) fn metadata(&self) -> Response<Body> {
        let schema = self.model.schema();
        let inputs = match matrix_input(schema) {
            Some(name) => vec![TensorMetadata {
                name,
                datatype: datatype_of(schema.features()[0].ty),
                shape: [-1, schema.len() as i64],
                parameters: Some(TensorParameters {
                    feature_names: Some(schema.names()),
                    classes: None,
                }),
            }],
            None => schema
                .features()
                .iter()
                .map(|f| TensorMetadata {
                    name: &f.name,
                    datatype: datatype_of(f.ty),
                    shape: [-1, 1],
                    parameters: None,
                })
                .collect(),
        };
        let task = self.model.task();
        let outputs = match &task {
            Task::Regression => vec![TensorMetadata {
                name: PREDICT,
                datatype: "FP32",
                shape: [-1, 1],
                parameters: None,
            }],
            Task::Classification { classes } => vec![
                TensorMetadata {
                    name: PREDICT,
                    datatype: label_datatype(classes),
                    shape: [-1, 1],
                    parameters: None,
                },
                TensorMetadata {
                    name: PREDICT_PROBA,
                    datatype: "FP32",
                    shape: [-1, classes.len() as i64],
                    parameters: Some(TensorParameters {
                        feature_names: None,
                        classes: Some(classes),
                    }),
                },
            ],
        };
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
