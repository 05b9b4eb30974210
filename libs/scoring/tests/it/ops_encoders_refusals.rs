//! Every unsupported attribute combination of the encoder ops is refused when the model
//! is loaded, with a message naming the op and the attribute.

use crate::common;

use common::tensors::{load, plan};
use prost::Message;
use tract_onnx::pb::{AttributeProto, ModelProto};

/// Loads fixture `name` with its single node's attributes edited by `edit`, and checks
/// the load fails with a message holding every one of `words`.
fn refused(name: &str, edit: impl FnOnce(&mut Vec<AttributeProto>), words: &[&str]) {
    let mut f = load(name);
    let mut proto = ModelProto::decode(f.model.as_slice()).unwrap();
    let graph = proto.graph.as_mut().unwrap();
    edit(&mut graph.node.last_mut().unwrap().attribute);
    f.model = proto.encode_to_vec();
    let err = plan(&f).expect_err(&format!("{name}: edited model loaded"));
    let msg = format!("{err:?}");
    for w in words {
        assert!(msg.contains(w), "{name}: {w:?} not in {msg}");
    }
}

fn set(attrs: &mut Vec<AttributeProto>, name: &str, from: AttributeProto) {
    attrs.retain(|a| a.name != name);
    attrs.push(AttributeProto {
        name: name.into(),
        ..from
    });
}

fn ints(v: &[i64]) -> AttributeProto {
    AttributeProto {
        r#type: 7,
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn int(v: i64) -> AttributeProto {
    AttributeProto {
        r#type: 2,
        i: v,
        ..Default::default()
    }
}

fn string(v: &str) -> AttributeProto {
    AttributeProto {
        r#type: 3,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn strings(v: &[&str]) -> AttributeProto {
    AttributeProto {
        r#type: 8,
        strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..Default::default()
    }
}

fn floats(v: &[f32]) -> AttributeProto {
    AttributeProto {
        r#type: 6,
        floats: v.to_vec(),
        ..Default::default()
    }
}

#[test]
fn unknown_attributes() {
    for (name, op) in [
        ("ohe_int64", "OneHotEncoder"),
        ("le2_string_int64", "LabelEncoder"),
        ("imputer_int64", "Imputer"),
        ("binarizer_float32", "Binarizer"),
        ("normalizer_l1_float32", "Normalizer"),
    ] {
        refused(
            name,
            |a| set(a, "surprise", int(1)),
            &[op, "attribute surprise is not supported"],
        );
    }
}

#[test]
fn one_hot_encoder() {
    refused(
        "ohe_int64",
        |a| set(a, "cats_strings", strings(&["x"])),
        &["OneHotEncoder", "cats_strings and cats_int64s"],
    );
    refused(
        "ohe_int64",
        |a| a.retain(|a| a.name != "cats_int64s"),
        &["OneHotEncoder", "cats_int64s"],
    );
    refused(
        "ohe_int64",
        |a| set(a, "zeros", int(2)),
        &["OneHotEncoder", "zeros"],
    );
    // String input against integer categories: refused, not all-zero rows.
    refused(
        "ohe_strings_unknown_zeros",
        |a| {
            a.retain(|a| a.name != "cats_strings");
            set(a, "cats_int64s", ints(&[1, 2]));
        },
        &["OneHotEncoder", "cats_int64s"],
    );
    refused(
        "ohe_float32",
        |a| {
            a.retain(|a| a.name != "cats_int64s");
            set(a, "cats_strings", strings(&["1"]));
        },
        &["OneHotEncoder", "cats_strings"],
    );
}

#[test]
fn label_encoder() {
    refused(
        "le2_string_int64",
        |a| set(a, "keys_int64s", ints(&[1, 2, 3])),
        &["LabelEncoder", "keys_strings", "keys_int64s"],
    );
    refused(
        "le2_string_int64",
        |a| set(a, "values_int64s", ints(&[1])),
        &["LabelEncoder", "keys_strings", "values_int64s"],
    );
    refused(
        "le2_string_int64",
        |a| a.retain(|a| !a.name.starts_with("values")),
        &["LabelEncoder", "values_strings"],
    );
    refused(
        "le2_string_int64",
        |a| set(a, "classes_strings", strings(&["a"])),
        &["LabelEncoder", "classes_strings"],
    );
    refused(
        "le2_int64_string",
        |a| set(a, "values_floats", floats(&[1.0, 2.0, 3.0])),
        &["LabelEncoder", "values_strings", "values_floats"],
    );
    // Float input, string keys.
    refused(
        "le2_float32_int64",
        |a| {
            a.retain(|a| a.name != "keys_floats");
            set(a, "keys_strings", strings(&["a", "b", "c"]));
        },
        &["LabelEncoder", "keys_strings"],
    );
    // A default of another type than the values.
    refused(
        "le4_int64_float64",
        |a| {
            let t = a.iter().find(|a| a.name == "keys_tensor").unwrap().clone();
            set(a, "default_tensor", t);
        },
        &["LabelEncoder", "default_tensor"],
    );
}

#[test]
fn imputer() {
    refused(
        "imputer_int64",
        |a| set(a, "imputed_value_floats", floats(&[1.0])),
        &["Imputer", "imputed_value_floats and imputed_value_int64s"],
    );
    refused(
        "imputer_int64",
        |a| set(a, "imputed_value_int64s", ints(&[1, 2])),
        &["Imputer", "imputed_value_int64s has 2 values for 3 columns"],
    );
    refused(
        "imputer_nan_per_column",
        |a| {
            a.retain(|a| a.name != "imputed_value_floats");
            set(a, "imputed_value_int64s", ints(&[1]));
        },
        &["Imputer", "imputed_value_floats"],
    );
    refused(
        "imputer_int64",
        |a| {
            a.retain(|a| a.name != "imputed_value_int64s");
            set(a, "imputed_value_floats", floats(&[1.0]));
        },
        &["Imputer", "imputed_value_int64s"],
    );
}

#[test]
fn normalizer() {
    refused(
        "normalizer_l1_float32",
        |a| set(a, "norm", string("L3")),
        &["Normalizer", "norm", "L3"],
    );
}

/// onnxruntime reads Imputer columns from axis 1 whatever the rank; only [C] and [N, C]
/// are accepted, where that is also the last axis.
#[test]
fn imputer_rank_3() {
    let mut f = load("imputer_nan_per_column");
    let x = f
        .inputs
        .remove("X")
        .unwrap()
        .into_shape(&[3, 3, 1])
        .unwrap();
    f.inputs.insert("X".into(), x);
    let msg = format!("{:?}", plan(&f).unwrap_err());
    assert!(
        msg.contains("Imputer") && msg.contains("[C] or [N, C]"),
        "{msg}"
    );
}
