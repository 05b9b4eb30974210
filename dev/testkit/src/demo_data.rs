//! The demo products: one per wine of `model/data/winequality-red.csv`, with id
//! `wine-0001` for the first data row up to `wine-1599`, and the eleven attributes under
//! the model's snake_case names. The `quality` label is not an attribute and is left out.

use crate::Item;
use aws_sdk_dynamodb::types::AttributeValue;

pub const LABEL: &str = "quality";

/// `fixed acidity` -> `fixed_acidity`, `pH` -> `ph`.
pub fn attribute_name(header: &str) -> String {
    header
        .trim()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
}

pub fn product_id(row: usize) -> String {
    format!("wine-{:04}", row + 1)
}

/// The products of a wine CSV: a header line, then comma-separated numbers.
pub fn wine_products(csv: &str) -> Result<Vec<Item>, String> {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .ok_or("the CSV is empty")?
        .split(',')
        .map(attribute_name)
        .collect();
    lines
        .enumerate()
        .map(|(row, line)| {
            let values: Vec<&str> = line.split(',').collect();
            if values.len() != header.len() {
                return Err(format!(
                    "line {}: {} values for {} columns",
                    row + 2,
                    values.len(),
                    header.len()
                ));
            }
            let mut item: Item = header
                .iter()
                .zip(&values)
                .filter(|(name, _)| name.as_str() != LABEL)
                .map(|(name, value)| {
                    let value = value.trim();
                    value
                        .parse::<f64>()
                        .map_err(|_| format!("line {}: {name} is {value:?}", row + 2))?;
                    Ok((name.clone(), AttributeValue::N(value.to_owned())))
                })
                .collect::<Result<_, String>>()?;
            item.insert(
                crate::PRODUCT_ID.to_owned(),
                AttributeValue::S(product_id(row)),
            );
            Ok(item)
        })
        .collect()
}

/// Red and white wines together, each with its `color` ("red" or "white", a string
/// attribute) and id `red-0001`.. / `white-0001`..: the products of the demo classifier.
pub fn colored_wines() -> Result<Vec<Item>, String> {
    let mut all = Vec::new();
    for color in ["red", "white"] {
        let path = format!(
            "{}/../../model/data/winequality-{color}.csv",
            env!("CARGO_MANIFEST_DIR")
        );
        let csv = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        for (row, mut item) in wine_products(&csv)?.into_iter().enumerate() {
            item.insert(
                crate::PRODUCT_ID.to_owned(),
                AttributeValue::S(format!("{color}-{:04}", row + 1)),
            );
            item.insert("color".to_owned(), AttributeValue::S(color.to_owned()));
            all.push(item);
        }
    }
    Ok(all)
}

/// The committed data set, read from the repository.
pub fn repository_wines() -> Result<Vec<Item>, String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../model/data/winequality-red.csv"
    );
    let csv = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    wine_products(&csv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_1599_wines_with_eleven_attributes_and_an_id() {
        let wines = repository_wines().unwrap();
        assert_eq!(wines.len(), 1599);
        assert_eq!(
            wines[0]
                .get("product_id")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str),
            Some("wine-0001")
        );
        assert_eq!(
            wines[1598]
                .get("product_id")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str),
            Some("wine-1599")
        );
        assert_eq!(wines[0].len(), 12);
        assert_eq!(wines[0]["fixed_acidity"], AttributeValue::N("7.4".into()));
        assert_eq!(wines[0]["ph"], AttributeValue::N("3.51".into()));
        assert!(!wines[0].contains_key("quality"));
    }

    #[test]
    fn malformed_lines_are_named() {
        assert!(wine_products("a,b\n1,2,3\n")
            .unwrap_err()
            .contains("line 2"));
        assert!(wine_products("a,b\n1,x\n")
            .unwrap_err()
            .contains("b is \"x\""));
    }
}
