//! Items and their attributes as the domain's rows and values: what the attribute table,
//! the scan and the predictions table share.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use scoring::{Row, Value};

pub type Item = HashMap<String, AttributeValue>;

/// The item of `product_id` in `table` (one GetItem), if there is one.
pub(super) async fn item_of(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    product_id: &str,
) -> Result<Option<Item>, store::StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .key(store::PRODUCT_ID, AttributeValue::S(product_id.to_owned()))
        .send()
        .await
        .map_err(|e| crate::errors::store_error(&format!("GetItem on table {table}"), e))?;
    Ok(out.item)
}

/// An attribute as the domain sees it: numbers (`N`, carried as text), strings (`S`) and
/// `NULL`; any other type is named for the error it will cause if a model reads it.
pub fn value(attribute: AttributeValue) -> Value {
    match attribute {
        AttributeValue::N(n) => n
            .trim()
            .parse()
            .map_or(Value::Other("an unreadable number (N)"), Value::Number),
        AttributeValue::S(s) => Value::Text(s),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(_) => Value::Other("a boolean (BOOL)"),
        AttributeValue::L(_) => Value::Other("a list (L)"),
        AttributeValue::M(_) => Value::Other("a map (M)"),
        AttributeValue::Ns(_) => Value::Other("a number set (NS)"),
        AttributeValue::Ss(_) => Value::Other("a string set (SS)"),
        AttributeValue::B(_) | AttributeValue::Bs(_) => Value::Other("binary (B)"),
        _ => Value::Other("an unknown DynamoDB type"),
    }
}

/// An item as a row of its attributes.
pub fn row(item: Item) -> Row {
    let mut row = Row::with_capacity(item.len());
    for (name, attribute) in item {
        row.insert(name, value(attribute));
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_strings_and_nulls_are_read_and_other_types_named() {
        let item = Item::from([
            ("a".to_owned(), AttributeValue::N("7.5".into())),
            ("b".to_owned(), AttributeValue::S("red".into())),
            ("c".to_owned(), AttributeValue::Null(true)),
            ("d".to_owned(), AttributeValue::Bool(true)),
            (
                "e".to_owned(),
                AttributeValue::N("12345678901234567890".into()),
            ),
        ]);
        let row = row(item);
        assert_eq!(row.get("a"), Some(&Value::Number(7.5)));
        assert_eq!(row.get("b"), Some(&Value::Text("red".into())));
        assert_eq!(row.get("c"), Some(&Value::Null));
        assert_eq!(row.get("d"), Some(&Value::Other("a boolean (BOOL)")));
        assert_eq!(row.get("e"), Some(&Value::Number(12345678901234567890.0)));
        assert_eq!(row.get("f"), None);
    }
}
