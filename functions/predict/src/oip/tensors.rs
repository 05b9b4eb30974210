//! Reading a request's tensors: datatypes, items straight from the JSON, and the checks
//! every input passes before its rows are read.

use std::borrow::Cow;

use scoring::{FeatureRow, FeatureValue};
use serde::Deserialize;

use crate::http::ApiError;
/// The protocol's tensor datatypes, as far as this function reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Datatype {
    Fp32,
    Fp64,
    /// A signed integer type and its range.
    Int(i64, i64),
    /// An unsigned integer type and its largest value.
    Uint(u64),
    Bytes,
}

pub(super) const NUMERIC: &str =
    "FP32, FP64, INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32 or UINT64";

/// The datatype of `input`, or why it cannot be read.
pub(super) fn datatype(input: &str, name: &str) -> Result<Datatype, ApiError> {
    Ok(match name {
        "FP32" => Datatype::Fp32,
        "FP64" => Datatype::Fp64,
        "INT8" => Datatype::Int(i8::MIN.into(), i8::MAX.into()),
        "INT16" => Datatype::Int(i16::MIN.into(), i16::MAX.into()),
        "INT32" => Datatype::Int(i32::MIN.into(), i32::MAX.into()),
        "INT64" => Datatype::Int(i64::MIN, i64::MAX),
        "UINT8" => Datatype::Uint(u8::MAX.into()),
        "UINT16" => Datatype::Uint(u16::MAX.into()),
        "UINT32" => Datatype::Uint(u32::MAX.into()),
        "UINT64" => Datatype::Uint(u64::MAX),
        "BYTES" => Datatype::Bytes,
        "BOOL" | "FP16" | "BF16" => {
            return Err(ApiError::bad_request(format!(
                "input `{input}` has datatype {name}, which this model does not take: send \
                 numeric features as {NUMERIC}, categorical ones as BYTES"
            )))
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "input `{input}` has datatype {other:?}, which is not an Open Inference \
                 Protocol datatype"
            )))
        }
    })
}

/// A tensor's items as the JSON has them, read straight into one flat list (no
/// intermediate `serde_json::Value` tree: the protocol's verbosity costs enough).
#[derive(Debug, Default)]
pub(super) struct TensorData<'a> {
    pub(super) items: Vec<Item<'a>>,
    /// `data` was not an array.
    pub(super) not_array: bool,
}

#[derive(Debug)]
pub(super) enum Item<'a> {
    Int(i64),
    Uint(u64),
    Float(f64),
    Text(Cow<'a, str>),
    /// Anything else, by kind: "null", "a boolean", "an object".
    Other(&'static str),
}

impl Item<'_> {
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Item::Int(_) | Item::Uint(_) | Item::Float(_) => "a number",
            Item::Text(_) => "a string",
            Item::Other(kind) => kind,
        }
    }

    /// The number, as JSON wrote it (for messages).
    pub(super) fn show(&self) -> String {
        match self {
            Item::Int(v) => v.to_string(),
            Item::Uint(v) => v.to_string(),
            Item::Float(v) => {
                serde_json::Number::from_f64(*v).map_or(v.to_string(), |n| n.to_string())
            }
            other => other.kind().to_owned(),
        }
    }
}

/// Appends every item of a (possibly nested) array to the list.
pub(super) struct Append<'v, 'a>(&'v mut Vec<Item<'a>>);

impl<'de: 'a, 'a> serde::de::DeserializeSeed<'de> for Append<'_, 'a> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(ItemVisitor(self.0))
    }
}

pub(super) struct ItemVisitor<'v, 'a>(&'v mut Vec<Item<'a>>);

impl<'de: 'a, 'a> serde::de::Visitor<'de> for ItemVisitor<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a tensor item")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Append(&mut *self.0))?.is_some() {}
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.0.push(Item::Int(v));
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.push(match i64::try_from(v) {
            Ok(v) => Item::Int(v),
            Err(_) => Item::Uint(v),
        });
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.0.push(Item::Float(v));
        Ok(())
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        self.0.push(Item::Text(Cow::Borrowed(v)));
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.push(Item::Text(Cow::Owned(v.to_owned())));
        Ok(())
    }
    fn visit_string<E>(self, v: String) -> Result<(), E> {
        self.0.push(Item::Text(Cow::Owned(v)));
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        self.0.push(Item::Other("a boolean"));
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.push(Item::Other("null"));
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        self.0.push(Item::Other("null"));
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        self.0.push(Item::Other("an object"));
        Ok(())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for TensorData<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DataVisitor(std::marker::PhantomData))
    }
}

/// `data` itself: an array (its items appended, flat), or anything else (refused later,
/// naming the input).
pub(super) struct DataVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl DataVisitor<'_> {
    fn not_array<'a, E>() -> Result<TensorData<'a>, E> {
        Ok(TensorData {
            items: Vec::new(),
            not_array: true,
        })
    }
}

impl<'de: 'a, 'a> serde::de::Visitor<'de> for DataVisitor<'a> {
    type Value = TensorData<'a>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of tensor items")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(1));
        while seq.next_element_seed(Append(&mut items))?.is_some() {}
        Ok(TensorData {
            items,
            not_array: false,
        })
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Self::not_array()
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Self::not_array()
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Self::not_array()
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Self::not_array()
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Self::not_array()
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Self::not_array()
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Self::not_array()
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Self::not_array()
    }
}

/// One input: its checked items and how to read them.
pub(super) struct Column<'a> {
    pub(super) items: &'a [Item<'a>],
    pub(super) datatype: Datatype,
}

impl Column<'_> {
    /// Item `i` as a feature value: what a JSON number or string would be in
    /// `POST /predict`, an FP32 item first rounded to `f32`. Items were checked.
    pub(super) fn get(&self, i: usize) -> FeatureValue<'_> {
        let number = |v: f64| {
            FeatureValue::Number(if self.datatype == Datatype::Fp32 {
                f64::from(v as f32)
            } else {
                v
            })
        };
        match &self.items[i] {
            Item::Int(v) => number(*v as f64),
            Item::Uint(v) => number(*v as f64),
            Item::Float(v) => number(*v),
            Item::Text(s) => FeatureValue::Text(s),
            Item::Other(kind) => FeatureValue::Other(kind),
        }
    }
}

/// The request's tensors, one per feature in schema order (each `rows` long) or one
/// matrix (`rows` x features, row-major).
pub(super) struct Tensors<'a> {
    pub(super) names: &'a [String],
    pub(super) columns: Vec<Column<'a>>,
    pub(super) matrix: bool,
}

/// Row `row` of the tensors, read by feature name as any other row.
pub(super) struct TensorRow<'a> {
    pub(super) tensors: &'a Tensors<'a>,
    pub(super) row: usize,
}

impl FeatureRow for TensorRow<'_> {
    fn feature(&self, name: &str) -> Option<FeatureValue<'_>> {
        let t = self.tensors;
        let at = t.names.iter().position(|n| n == name)?;
        Some(if t.matrix {
            t.columns[0].get(self.row * t.names.len() + at)
        } else {
            t.columns[at].get(self.row)
        })
    }
}

/// Checks `input`'s items against its datatype.
pub(super) fn check_items(
    input: &str,
    datatype_name: &str,
    datatype: Datatype,
    items: &[Item<'_>],
) -> Result<(), ApiError> {
    let bad_item = |i: usize, item: &Item, what: &str| {
        let extra = if item.kind() == "null" {
            "; the Open Inference Protocol has no missing values (null is not a tensor item): \
             send a value, or score the row with POST /predict, which takes null"
        } else {
            ""
        };
        ApiError::bad_request(format!(
            "input `{input}`: item {i} is {}, not {what} ({datatype_name}){extra}",
            item.kind()
        ))
    };
    let out_of_range = |i: usize, item: &Item| {
        ApiError::bad_request(format!(
            "input `{input}`: item {i} ({}) is not an integer in {datatype_name}'s range",
            item.show()
        ))
    };
    for (i, item) in items.iter().enumerate() {
        match (datatype, item) {
            (Datatype::Bytes, Item::Text(_)) => {}
            (Datatype::Bytes, other) => return Err(bad_item(i, other, "a string")),
            (_, Item::Text(_) | Item::Other(_)) => return Err(bad_item(i, item, "a number")),
            (Datatype::Fp64, _) => {}
            (Datatype::Fp32, Item::Float(v)) if !(*v as f32).is_finite() => {
                return Err(ApiError::bad_request(format!(
                    "input `{input}`: item {i} ({}) is outside FP32's range",
                    item.show()
                )))
            }
            (Datatype::Fp32, _) => {}
            (Datatype::Int(min, max), Item::Int(v)) if (min..=max).contains(v) => {}
            (Datatype::Uint(max), Item::Int(v)) if *v >= 0 && (*v as u64) <= max => {}
            (Datatype::Uint(max), Item::Uint(v)) if *v <= max => {}
            (Datatype::Int(..) | Datatype::Uint(_), _) => return Err(out_of_range(i, item)),
        }
    }
    Ok(())
}

pub(super) fn show_shape(shape: &[i64]) -> String {
    let axes: Vec<String> = shape.iter().map(i64::to_string).collect();
    format!("[{}]", axes.join(", "))
}

/// The rows a tensor of `shape` holds, if its shape is one of `forms` (`width` columns).
pub(super) fn rows_of(
    input: &str,
    shape: &[i64],
    width: usize,
    matrix: bool,
) -> Result<usize, ApiError> {
    let expected = if matrix {
        format!("[N, {width}]")
    } else {
        "[N] or [N, 1]".to_owned()
    };
    let wrong = || {
        ApiError::bad_request(format!(
            "input `{input}` has shape {}; expected {expected}",
            show_shape(shape)
        ))
    };
    match (shape, matrix) {
        ([n], false) | ([n, 1], false) if *n >= 0 => Ok(*n as usize),
        ([n, w], true) if *n >= 0 && *w == width as i64 => Ok(*n as usize),
        _ => Err(wrong()),
    }
}
