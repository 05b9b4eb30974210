//! The feature schema: which named features a model reads, of which type, in which order,
//! and how they reach its inputs. It comes from the model file, never from code, in every
//! layout the converters write.

use std::collections::HashSet;

use tract_onnx::pb::{
    tensor_proto::DataType, tensor_shape_proto::dimension, type_proto, GraphProto, ModelProto,
    ValueInfoProto,
};

use crate::batch::Batch;
use crate::error::{LoadError, RowError, RowProblem};
use crate::feature::{Feature, FeatureType, InputLayout};
use crate::missing;
use crate::row::{FeatureRow, FeatureValue};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureSchema {
    features: Vec<Feature>,
    names: Vec<String>,
    layout: InputLayout,
    /// The model's input names, in graph order (one per feature, or the matrix's one).
    inputs: Vec<String>,
}

/// The metadata key holding a JSON array of column names for a matrix input.
pub const FEATURE_NAMES_KEY: &str = "feature_names";

impl FeatureSchema {
    /// A float matrix input of `names`, each accepting missing values (unit tests).
    #[cfg(test)]
    pub(crate) fn matrix_for_tests(names: &[&str]) -> FeatureSchema {
        FeatureSchema {
            features: names
                .iter()
                .map(|n| Feature {
                    name: n.to_string(),
                    ty: FeatureType::Float,
                    accepts_missing: true,
                })
                .collect(),
            names: names.iter().map(|n| n.to_string()).collect(),
            layout: InputLayout::Matrix,
            inputs: vec!["features".into()],
        }
    }

    /// Feature names, in model input order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    pub fn len(&self) -> usize {
        self.features.len()
    }

    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    pub fn layout(&self) -> InputLayout {
        self.layout
    }

    /// The names of the model's inputs, in graph order: the matrix input's name
    /// ([`InputLayout::Matrix`]), or one per feature, each the feature's name.
    pub fn input_names(&self) -> &[String] {
        &self.inputs
    }

    /// An empty batch of inputs for this schema, with room for `rows` rows.
    pub fn batch(&self, rows: usize) -> Batch {
        Batch::new(self.layout, &self.features, rows)
    }

    /// Appends `row`'s features to `batch`. On error `batch` is left as it was.
    pub fn read_row<R: FeatureRow + ?Sized>(
        &self,
        row: &R,
        batch: &mut Batch,
    ) -> Result<(), RowError> {
        let mark = batch.mark();
        for (i, feature) in self.features.iter().enumerate() {
            let value = match row.feature(&feature.name) {
                Some(v) => v,
                // Sparse rows (a DynamoDB item) leave out what they do not have.
                None if row.absent_is_null() && feature.accepts_missing => FeatureValue::Null,
                None => {
                    batch.rewind(mark);
                    return Err(RowError::new(&feature.name, RowProblem::Missing));
                }
            };
            if let Err(problem) = batch.push(i, feature, value) {
                batch.rewind(mark);
                return Err(RowError::new(&feature.name, problem));
            }
        }
        batch.end_row();
        Ok(())
    }

    /// Reads the schema off the model file: its graph inputs and metadata.
    pub(crate) fn from_model(proto: &ModelProto) -> Result<FeatureSchema, LoadError> {
        let graph = proto
            .graph
            .as_ref()
            .ok_or_else(|| LoadError::Corrupt("the model has no graph".into()))?;
        let inputs = graph_inputs(graph);
        let metadata_names = proto
            .metadata_props
            .iter()
            .find(|p| p.key == FEATURE_NAMES_KEY)
            .map(|p| p.value.as_str());

        let (features, layout) = match inputs.as_slice() {
            [] => return Err(LoadError::NoInputs),
            [input] => {
                let (ty, dims) = input_type(input)?;
                match (dims.as_slice(), metadata_names) {
                    ([_, width], Some(json)) => {
                        if ty != FeatureType::Float && ty != FeatureType::Double {
                            return Err(LoadError::UnsupportedInput {
                                input: input.name.clone(),
                                problem: format!(
                                    "a [N, F] matrix of {} is not supported; export a float or \
                                     double matrix, or one [N, 1] input per column",
                                    ty.name()
                                ),
                            });
                        }
                        let names = parse_feature_names(json)?;
                        if let Some(w) = width.filter(|&w| w != names.len() as i64) {
                            return Err(LoadError::BadFeatureNames(format!(
                                "it names {} features but input `{}` has {w} columns",
                                names.len(),
                                input.name
                            )));
                        }
                        let missing = missing::handled(graph, &input.name);
                        let features = names
                            .into_iter()
                            .map(|name| Feature {
                                name,
                                ty,
                                accepts_missing: missing,
                            })
                            .collect();
                        (features, InputLayout::Matrix)
                    }
                    // A lone [N, 1] input without metadata: a one-feature, per-feature export.
                    ([_, Some(1)], None) => {
                        (vec![per_feature(graph, input, ty)], InputLayout::PerFeature)
                    }
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
                let mut features = Vec::with_capacity(many.len());
                for input in many {
                    let (ty, dims) = input_type(input)?;
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
                    features.push(per_feature(graph, input, ty));
                }
                (features, InputLayout::PerFeature)
            }
        };
        let mut seen = HashSet::new();
        if let Some(dup) = features.iter().find(|f| !seen.insert(f.name.as_str())) {
            return Err(LoadError::BadFeatureNames(format!(
                "feature `{}` is named twice",
                dup.name
            )));
        }
        Ok(FeatureSchema {
            names: features.iter().map(|f| f.name.clone()).collect(),
            features,
            layout,
            inputs: inputs.iter().map(|i| i.name.clone()).collect(),
        })
    }
}

/// The graph's real inputs: old exporters also list initializers (weights) as inputs.
pub(crate) fn graph_inputs(graph: &GraphProto) -> Vec<&ValueInfoProto> {
    let weights: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    graph
        .input
        .iter()
        .filter(|i| !weights.contains(i.name.as_str()))
        .collect()
}

fn per_feature(graph: &GraphProto, input: &ValueInfoProto, ty: FeatureType) -> Feature {
    let accepts_missing = match ty {
        FeatureType::Float | FeatureType::Double => missing::handled(graph, &input.name),
        FeatureType::String => missing::knows_missing_text(graph, &input.name),
        // An integer input cannot hold a missing value.
        FeatureType::Int64 => false,
    };
    Feature {
        name: input.name.clone(),
        ty,
        accepts_missing,
    }
}

/// The input's element type and axes (`None` for a symbolic one).
fn input_type(input: &ValueInfoProto) -> Result<(FeatureType, Vec<Option<i64>>), LoadError> {
    let unsupported = |problem: String| LoadError::UnsupportedInput {
        input: input.name.clone(),
        problem,
    };
    let Some(type_proto::Value::TensorType(tensor)) =
        input.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(unsupported(
            "it is not a tensor (a map or sequence input, e.g. from DictVectorizer, is not \
             supported; export one [N, 1] input per column)"
                .into(),
        ));
    };
    let ty = FeatureType::from_onnx(tensor.elem_type).ok_or_else(|| {
        let name = DataType::try_from(tensor.elem_type)
            .map(|t| t.as_str_name())
            .unwrap_or("unknown");
        unsupported(format!(
            "its element type is {name}; inputs may be float, double, int64 or string"
        ))
    })?;
    let shape = tensor
        .shape
        .as_ref()
        .ok_or_else(|| unsupported("it has no declared shape".into()))?;
    let dims = shape
        .dim
        .iter()
        .map(|d| match d.value {
            Some(dimension::Value::DimValue(v)) if v > 0 => Some(v),
            _ => None,
        })
        .collect();
    Ok((ty, dims))
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
