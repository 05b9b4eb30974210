//! The feature schema: which named features a model reads, in which order, and how they
//! reach its inputs. It comes from the model file, never from code, in either shape that
//! skl2onnx produces.

use std::collections::HashSet;

use tract_onnx::pb::{
    tensor_proto::DataType, tensor_shape_proto::dimension, type_proto, ModelProto, ValueInfoProto,
};

use crate::error::{LoadError, RowError, RowProblem};
use crate::row::FeatureRow;

/// How the features are laid out over the model's inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputLayout {
    /// One `[N, F]` float input; column names from the `feature_names` metadata.
    Matrix,
    /// One `[N, 1]` float input per feature, named by the feature.
    PerFeature,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureSchema {
    names: Vec<String>,
    layout: InputLayout,
}

/// The metadata key holding a JSON array of column names for a matrix input.
pub const FEATURE_NAMES_KEY: &str = "feature_names";

impl FeatureSchema {
    /// Feature names, in model input order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn layout(&self) -> InputLayout {
        self.layout
    }

    /// Appends `row`'s features, in model order, to `out`. On error `out` is left as it was.
    pub fn read_row<R: FeatureRow + ?Sized>(
        &self,
        row: &R,
        out: &mut Vec<f32>,
    ) -> Result<(), RowError> {
        let start = out.len();
        out.reserve(self.names.len());
        for name in &self.names {
            let value = row
                .feature(name)
                .ok_or_else(|| RowError::new(name, RowProblem::Missing))
                .and_then(|v| v.to_input(name));
            match value {
                Ok(v) => out.push(v),
                Err(e) => {
                    out.truncate(start);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Reads the schema off the model file: its graph inputs and metadata.
    pub(crate) fn from_model(proto: &ModelProto) -> Result<FeatureSchema, LoadError> {
        let graph = proto
            .graph
            .as_ref()
            .ok_or_else(|| LoadError::Corrupt("the model has no graph".into()))?;
        // Old exporters also list initializers (weights) as inputs.
        let weights: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let inputs: Vec<&ValueInfoProto> = graph
            .input
            .iter()
            .filter(|i| !weights.contains(i.name.as_str()))
            .collect();
        let metadata_names = proto
            .metadata_props
            .iter()
            .find(|p| p.key == FEATURE_NAMES_KEY)
            .map(|p| p.value.as_str());

        let schema = match inputs.as_slice() {
            [] => return Err(LoadError::NoInputs),
            [input] => {
                let dims = float_input_dims(input)?;
                match (dims.as_slice(), metadata_names) {
                    ([_, width], Some(json)) => {
                        let names = parse_feature_names(json)?;
                        if let Some(w) = width.filter(|&w| w != names.len() as i64) {
                            return Err(LoadError::BadFeatureNames(format!(
                                "it names {} features but input `{}` has {w} columns",
                                names.len(),
                                input.name
                            )));
                        }
                        FeatureSchema {
                            names,
                            layout: InputLayout::Matrix,
                        }
                    }
                    // A lone [N, 1] input without metadata: a one-feature, per-feature export.
                    ([_, Some(1)], None) => FeatureSchema {
                        names: vec![input.name.clone()],
                        layout: InputLayout::PerFeature,
                    },
                    ([_, width], None) => {
                        return Err(LoadError::NoFeatureNames {
                            input: input.name.clone(),
                            width: width.map_or("F".to_owned(), |w| w.to_string()),
                        })
                    }
                    _ => {
                        return Err(LoadError::UnsupportedInput {
                            input: input.name.clone(),
                            problem: format!(
                                "it has {} axes; expected [N, F] (or one [N, 1] input per feature)",
                                dims.len()
                            ),
                        })
                    }
                }
            }
            many => {
                for input in many {
                    let dims = float_input_dims(input)?;
                    if !matches!(dims.as_slice(), [_, Some(1)]) {
                        return Err(LoadError::UnsupportedInput {
                            input: input.name.clone(),
                            problem: format!(
                                "a model with {} inputs must have one [N, 1] input per feature; \
                                 this one has shape {}",
                                many.len(),
                                show_dims(&dims)
                            ),
                        });
                    }
                }
                FeatureSchema {
                    names: many.iter().map(|i| i.name.clone()).collect(),
                    layout: InputLayout::PerFeature,
                }
            }
        };
        let mut seen = HashSet::new();
        if let Some(dup) = schema.names.iter().find(|n| !seen.insert(n.as_str())) {
            return Err(LoadError::BadFeatureNames(format!(
                "feature `{dup}` is named twice"
            )));
        }
        Ok(schema)
    }
}

/// The input's axes (`None` for a symbolic one), after checking that it holds f32.
fn float_input_dims(input: &ValueInfoProto) -> Result<Vec<Option<i64>>, LoadError> {
    let unsupported = |problem: String| LoadError::UnsupportedInput {
        input: input.name.clone(),
        problem,
    };
    let Some(type_proto::Value::TensorType(tensor)) =
        input.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(unsupported("it is not a tensor".into()));
    };
    if tensor.elem_type != DataType::Float as i32 {
        let name = DataType::try_from(tensor.elem_type)
            .map(|t| t.as_str_name())
            .unwrap_or("unknown");
        return Err(unsupported(format!(
            "its element type is {name}; export it as float32 (skl2onnx: FloatTensorType)"
        )));
    }
    let shape = tensor
        .shape
        .as_ref()
        .ok_or_else(|| unsupported("it has no declared shape".into()))?;
    Ok(shape
        .dim
        .iter()
        .map(|d| match d.value {
            Some(dimension::Value::DimValue(v)) if v > 0 => Some(v),
            _ => None,
        })
        .collect())
}

fn show_dims(dims: &[Option<i64>]) -> String {
    let axes: Vec<String> = dims
        .iter()
        .map(|d| d.map_or("?".to_owned(), |v| v.to_string()))
        .collect();
    format!("[{}]", axes.join(", "))
}

fn parse_feature_names(json: &str) -> Result<Vec<String>, LoadError> {
    let names: Vec<String> = serde_json::from_str(json).map_err(|e| {
        LoadError::BadFeatureNames(format!("expected a JSON array of strings ({e})"))
    })?;
    if names.is_empty() {
        return Err(LoadError::BadFeatureNames("it is an empty list".into()));
    }
    if let Some(i) = names.iter().position(|n| n.trim().is_empty()) {
        return Err(LoadError::BadFeatureNames(format!("name {i} is empty")));
    }
    Ok(names)
}
