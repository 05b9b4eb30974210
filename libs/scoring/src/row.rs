//! Rows given by feature name, from whatever holds them (a JSON object, a map, a row a
//! store handed out), and how a value becomes a model input.

use std::collections::{BTreeMap, HashMap};

/// One attribute value, borrowed from whatever holds the row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeatureValue<'a> {
    Number(f64),
    Text(&'a str),
    /// An explicit missing value (JSON `null`, DynamoDB `NULL`).
    Null,
    /// A value of a kind no model reads; the text names it for the error ("a boolean").
    Other(&'static str),
}

/// A row whose values are looked up by feature name. Attributes the model does not use
/// are never read.
pub trait FeatureRow {
    fn feature(&self, name: &str) -> Option<FeatureValue<'_>>;

    /// Whether a feature left out of the row means "missing" (as in a sparse DynamoDB
    /// item) rather than a mistake (a misspelt key in a request body).
    fn absent_is_null(&self) -> bool {
        false
    }
}

/// An owned attribute value: what a store hands out.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Text(String),
    Null,
    Other(&'static str),
}

impl Value {
    pub fn as_feature(&self) -> FeatureValue<'_> {
        match self {
            Value::Number(v) => FeatureValue::Number(*v),
            Value::Text(s) => FeatureValue::Text(s),
            Value::Null => FeatureValue::Null,
            Value::Other(kind) => FeatureValue::Other(kind),
        }
    }
}

/// A row of named values, owned: what the attribute stores return. Kept as a short list,
/// not a map: rows have a few dozen attributes at most, and a scan builds millions of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row(Vec<(String, Value)>);

impl Row {
    pub fn with_capacity(n: usize) -> Self {
        Row(Vec::with_capacity(n))
    }

    /// Sets `name` (replacing an earlier value of that name).
    pub fn insert(&mut self, name: impl Into<String>, value: Value) {
        let name = name.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let at = self.0.iter().position(|(n, _)| n == name)?;
        Some(self.0.swap_remove(at).1)
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }
}

impl FromIterator<(String, Value)> for Row {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        let mut row = Row::default();
        for (name, value) in iter {
            row.insert(name, value);
        }
        row
    }
}

impl FeatureRow for Row {
    fn feature(&self, name: &str) -> Option<FeatureValue<'_>> {
        self.get(name).map(Value::as_feature)
    }

    /// Stores hand out sparse items: an attribute left out is a missing value.
    fn absent_is_null(&self) -> bool {
        true
    }
}

impl FeatureRow for serde_json::Map<String, serde_json::Value> {
    fn feature(&self, name: &str) -> Option<FeatureValue<'_>> {
        use serde_json::Value;
        Some(match self.get(name)? {
            Value::Number(n) => match n.as_f64() {
                Some(v) => FeatureValue::Number(v),
                None => FeatureValue::Other("an out-of-range number"),
            },
            Value::Null => FeatureValue::Null,
            Value::Bool(_) => FeatureValue::Other("a boolean"),
            Value::String(s) => FeatureValue::Text(s),
            Value::Array(_) => FeatureValue::Other("an array"),
            Value::Object(_) => FeatureValue::Other("an object"),
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

    fn absent_is_null(&self) -> bool {
        (**self).absent_is_null()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_keeps_one_value_per_name_and_reads_as_features() {
        let mut row: Row = [
            ("a".to_owned(), Value::Number(1.0)),
            ("b".to_owned(), Value::Text("x".into())),
        ]
        .into_iter()
        .collect();
        row.insert("a", Value::Number(2.0));
        row.insert("c", Value::Null);
        assert_eq!(row.len(), 3);
        assert_eq!(row.feature("a"), Some(FeatureValue::Number(2.0)));
        assert_eq!(row.feature("b"), Some(FeatureValue::Text("x")));
        assert_eq!(row.feature("c"), Some(FeatureValue::Null));
        assert_eq!(row.feature("d"), None);
    }
}
