//! A feature and its type: what the schema is made of and what a batch holds, below both
//! so that neither imports the other.

use tract_onnx::pb::tensor_proto::DataType;

/// How the features are laid out over the model's inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputLayout {
    /// One `[N, F]` float or double input; column names from the `feature_names` metadata
    /// (skl2onnx on a NumPy array, onnxmltools for LightGBM and XGBoost).
    Matrix,
    /// One `[N, 1]` input per feature, named by the feature (skl2onnx on a DataFrame).
    PerFeature,
}

/// A feature's type: the element type of the input that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureType {
    Float,
    Double,
    Int64,
    /// A categorical feature.
    String,
}

impl FeatureType {
    /// The ONNX name of the element type.
    pub fn name(self) -> &'static str {
        match self {
            FeatureType::Float => "float",
            FeatureType::Double => "double",
            FeatureType::Int64 => "int64",
            FeatureType::String => "string",
        }
    }

    /// "numeric" or "categorical".
    pub fn kind(self) -> &'static str {
        match self {
            FeatureType::String => "categorical",
            _ => "numeric",
        }
    }

    pub(crate) fn from_onnx(elem_type: i32) -> Option<FeatureType> {
        Some(match DataType::try_from(elem_type).ok()? {
            DataType::Float => FeatureType::Float,
            DataType::Double => FeatureType::Double,
            DataType::Int64 => FeatureType::Int64,
            DataType::String => FeatureType::String,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    pub name: String,
    pub ty: FeatureType,
    /// Whether the model handles a missing value here (an imputer, or trees that route
    /// missing values); elsewhere a null is refused.
    pub accepts_missing: bool,
}

/// What a missing categorical value is fed as: skl2onnx's string imputer can only be
/// exported with `missing_values=""`, so the empty string is the marker models know.
pub const MISSING_TEXT: &str = "";
