//! Rows given by feature name, from whatever holds them (a JSON object, a map, a
//! database item through an adapter), and how a value becomes a model input.

use std::collections::{BTreeMap, HashMap};

use crate::error::{RowError, RowProblem};

/// One attribute value as its source holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeatureValue<'a> {
    Number(f64),
    /// A number written as text, the way DynamoDB's `N` type carries it.
    NumberText(&'a str),
    /// Anything else; the text names its kind for the error ("string", "boolean", ...).
    NotNumber(&'static str),
}

/// A row whose values are looked up by feature name. Attributes the model does not use
/// are never read.
pub trait FeatureRow {
    fn feature(&self, name: &str) -> Option<FeatureValue<'_>>;
}

impl FeatureValue<'_> {
    /// The model input for feature `name`: a finite f32, or why not.
    pub fn to_input(self, name: &str) -> Result<f32, RowError> {
        let value = match self {
            FeatureValue::Number(v) => v,
            FeatureValue::NumberText(text) => text.trim().parse::<f64>().map_err(|_| {
                RowError::new(
                    name,
                    RowProblem::NotNumeric {
                        found: format!("text {text:?}"),
                    },
                )
            })?,
            FeatureValue::NotNumber(kind) => {
                return Err(RowError::new(
                    name,
                    RowProblem::NotNumeric {
                        found: kind.to_owned(),
                    },
                ))
            }
        };
        let input = value as f32;
        // Out-of-range values overflow to infinity in f32: refused like NaN and infinities.
        if input.is_finite() {
            Ok(input)
        } else {
            Err(RowError::new(name, RowProblem::NotFinite { value }))
        }
    }
}

impl FeatureRow for serde_json::Map<String, serde_json::Value> {
    fn feature(&self, name: &str) -> Option<FeatureValue<'_>> {
        use serde_json::Value;
        Some(match self.get(name)? {
            Value::Number(n) => match n.as_f64() {
                Some(v) => FeatureValue::Number(v),
                None => FeatureValue::NotNumber("an out-of-range number"),
            },
            Value::Null => FeatureValue::NotNumber("null"),
            Value::Bool(_) => FeatureValue::NotNumber("a boolean"),
            Value::String(_) => FeatureValue::NotNumber("a string"),
            Value::Array(_) => FeatureValue::NotNumber("an array"),
            Value::Object(_) => FeatureValue::NotNumber("an object"),
        })
    }
}

impl FeatureRow for HashMap<String, f64> {
    fn feature(&self, name: &str) -> Option<FeatureValue<'_>> {
        self.get(name).map(|&v| FeatureValue::Number(v))
    }
}

impl FeatureRow for BTreeMap<String, f64> {
    fn feature(&self, name: &str) -> Option<FeatureValue<'_>> {
        self.get(name).map(|&v| FeatureValue::Number(v))
    }
}

impl<R: FeatureRow + ?Sized> FeatureRow for &R {
    fn feature(&self, name: &str) -> Option<FeatureValue<'_>> {
        (**self).feature(name)
    }
}
