//! A DynamoDB item as a row of named features: numbers (`N`, carried as text) are read,
//! anything else is reported by its DynamoDB type.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use scoring::{FeatureRow, FeatureValue};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Item(pub HashMap<String, AttributeValue>);

impl FeatureRow for Item {
    fn feature(&self, name: &str) -> Option<FeatureValue<'_>> {
        Some(match self.0.get(name)? {
            AttributeValue::N(n) => FeatureValue::NumberText(n),
            AttributeValue::S(_) => FeatureValue::NotNumber("a string (S)"),
            AttributeValue::Bool(_) => FeatureValue::NotNumber("a boolean (BOOL)"),
            AttributeValue::Null(_) => FeatureValue::NotNumber("null (NULL)"),
            AttributeValue::L(_) => FeatureValue::NotNumber("a list (L)"),
            AttributeValue::M(_) => FeatureValue::NotNumber("a map (M)"),
            AttributeValue::Ns(_) => FeatureValue::NotNumber("a number set (NS)"),
            AttributeValue::Ss(_) => FeatureValue::NotNumber("a string set (SS)"),
            AttributeValue::B(_) | AttributeValue::Bs(_) => FeatureValue::NotNumber("binary (B)"),
            _ => FeatureValue::NotNumber("an unknown DynamoDB type"),
        })
    }
}

impl Item {
    /// The item's string attribute `name`, if it has one.
    pub fn string(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
    }
}

impl FromIterator<(String, AttributeValue)> for Item {
    fn from_iter<I: IntoIterator<Item = (String, AttributeValue)>>(iter: I) -> Self {
        Item(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_and_other_types_named() {
        let item: Item = [
            ("a".to_owned(), AttributeValue::N("7.5".into())),
            ("b".to_owned(), AttributeValue::S("7.5".into())),
            ("c".to_owned(), AttributeValue::Bool(true)),
        ]
        .into_iter()
        .collect();
        assert_eq!(item.feature("a"), Some(FeatureValue::NumberText("7.5")));
        assert_eq!(
            item.feature("b"),
            Some(FeatureValue::NotNumber("a string (S)"))
        );
        assert_eq!(
            item.feature("c"),
            Some(FeatureValue::NotNumber("a boolean (BOOL)"))
        );
        assert_eq!(item.feature("d"), None);
    }
}
