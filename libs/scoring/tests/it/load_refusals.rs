//! Every way a model is refused at load, with a message that says what to fix.

use crate::common;

use common::{bytes, fixture};
use prost::Message;
use scoring::{LoadError, Model};
use tract_onnx::pb::{ModelProto, StringStringEntryProto};

fn ridge() -> ModelProto {
    ModelProto::decode(fixture("ridge").model_bytes().as_slice()).unwrap()
}

fn load(proto: &ModelProto) -> Result<Model, LoadError> {
    Model::load(&proto.encode_to_vec(), "v1")
}

fn set_feature_names(proto: &mut ModelProto, value: &str) {
    proto.metadata_props.retain(|p| p.key != "feature_names");
    proto.metadata_props.push(StringStringEntryProto {
        key: "feature_names".into(),
        value: value.into(),
    });
}

#[test]
fn corrupt_bytes() {
    let mut onnx = fixture("ridge").model_bytes();
    onnx.truncate(onnx.len() / 2);
    let err = Model::load(&onnx, "v").unwrap_err();
    assert!(matches!(err, LoadError::Corrupt(_)), "{err:?}");
    let err = Model::load(b"this is not a model", "v").unwrap_err();
    assert!(matches!(err, LoadError::Corrupt(_)), "{err:?}");
}

#[test]
fn empty_bytes() {
    let err = Model::load(&[], "v").unwrap_err();
    assert!(matches!(err, LoadError::Corrupt(_)), "{err:?}");
}

#[test]
fn matrix_input_without_feature_names_says_how_to_fix_the_export() {
    let err = Model::load(&bytes("no_feature_names.onnx"), "v").unwrap_err();
    assert!(matches!(err, LoadError::NoFeatureNames { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("feature_names") && msg.contains("set_model_props"),
        "{msg}"
    );
    assert!(msg.contains("one [None, 1] input per feature"), "{msg}");
}

#[test]
fn feature_names_not_a_json_array_of_strings() {
    for bad in ["not json", "{\"a\": 1}", "[1, 2, 3]", "[]", "[\"\", \"b\"]"] {
        let mut proto = ridge();
        set_feature_names(&mut proto, bad);
        let err = load(&proto).unwrap_err();
        assert!(
            matches!(err, LoadError::BadFeatureNames(_)),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn feature_names_count_differs_from_input_width() {
    let mut proto = ridge();
    let width = fixture("ridge").features.len();
    let names: Vec<String> = (0..width + 1).map(|i| format!("f{i}")).collect();
    set_feature_names(&mut proto, &serde_json::to_string(&names).unwrap());
    let err = load(&proto).unwrap_err();
    assert!(
        matches!(err, LoadError::BadFeatureNames(ref m) if m.contains(&format!("{width} columns"))),
        "{err}"
    );
}

#[test]
fn duplicate_feature_names() {
    let mut proto = ridge();
    let width = fixture("ridge").features.len();
    let names = vec!["same"; width];
    set_feature_names(&mut proto, &serde_json::to_string(&names).unwrap());
    let err = load(&proto).unwrap_err();
    assert!(
        matches!(err, LoadError::BadFeatureNames(ref m) if m.contains("`same`")),
        "{err}"
    );
}

#[test]
fn non_float_input() {
    let err = Model::load(&bytes("int_input.onnx"), "v").unwrap_err();
    assert!(matches!(err, LoadError::UnsupportedInput { .. }), "{err:?}");
    assert!(err.to_string().contains("float or double matrix"), "{err}");
}

#[test]
fn several_inputs_that_are_not_one_per_feature() {
    let mut proto = ModelProto::decode(fixture("per_feature").model_bytes().as_slice()).unwrap();
    let graph = proto.graph.as_mut().unwrap();
    let mut wide = graph.input[0].clone();
    wide.name = "wide".into();
    if let Some(tract_onnx::pb::type_proto::Value::TensorType(t)) =
        wide.r#type.as_mut().unwrap().value.as_mut()
    {
        let dim = &mut t.shape.as_mut().unwrap().dim[1];
        dim.value = Some(tract_onnx::pb::tensor_shape_proto::dimension::Value::DimValue(3));
    }
    graph.input.push(wide);
    let err = load(&proto).unwrap_err();
    assert!(
        matches!(err, LoadError::UnsupportedInput { ref input, .. } if input == "wide"),
        "{err:?}"
    );
}

#[test]
fn no_inputs() {
    let mut proto = ridge();
    proto.graph.as_mut().unwrap().input.clear();
    assert_eq!(load(&proto).unwrap_err(), LoadError::NoInputs);
}

#[test]
fn output_that_is_not_one_score_per_row() {
    let err = Model::load(&bytes("bad_output.onnx"), "v").unwrap_err();
    assert!(matches!(err, LoadError::UnsupportedOutput(_)), "{err:?}");
    assert!(err.to_string().contains("[N] or [N, 1]"), "{err}");
}

#[test]
fn two_outputs() {
    let mut proto = ridge();
    let graph = proto.graph.as_mut().unwrap();
    let mut second = graph.output[0].clone();
    second.name = graph.input[0].name.clone(); // a graph input is a valid output name
    graph.output.push(second);
    let err = load(&proto).unwrap_err();
    assert!(
        matches!(err, LoadError::UnsupportedOutput(ref m) if m.contains("2 outputs")),
        "{err:?}"
    );
}

#[test]
fn operator_nobody_implements() {
    let mut proto = ridge();
    proto.graph.as_mut().unwrap().node[0].op_type = "NoSuchOperator".into();
    let err = load(&proto).unwrap_err();
    assert!(
        matches!(err, LoadError::UnsupportedOperator { ref op, .. } if op == "ai.onnx.ml.NoSuchOperator"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("`ai.onnx.ml.NoSuchOperator`"),
        "{err}"
    );
}

#[test]
fn tree_ensemble_with_a_dangling_child() {
    let mut proto =
        ModelProto::decode(fixture("gradient_boosting").model_bytes().as_slice()).unwrap();
    let node = proto
        .graph
        .as_mut()
        .unwrap()
        .node
        .iter_mut()
        .find(|n| n.op_type == "TreeEnsembleRegressor")
        .unwrap();
    let attr = node
        .attribute
        .iter_mut()
        .find(|a| a.name == "nodes_truenodeids")
        .unwrap();
    attr.ints[0] = 9999;
    let err = load(&proto).unwrap_err();
    assert!(
        matches!(err, LoadError::Unsupported(ref m) if m.contains("9999")),
        "{err}"
    );
}

#[test]
fn tree_ensemble_with_unsupported_post_transform() {
    let mut proto =
        ModelProto::decode(fixture("gradient_boosting").model_bytes().as_slice()).unwrap();
    let node = proto
        .graph
        .as_mut()
        .unwrap()
        .node
        .iter_mut()
        .find(|n| n.op_type == "TreeEnsembleRegressor")
        .unwrap();
    node.attribute.retain(|a| a.name != "post_transform");
    node.attribute.push(tract_onnx::pb::AttributeProto {
        name: "post_transform".into(),
        r#type: tract_onnx::pb::attribute_proto::AttributeType::String as i32,
        s: b"PROBIT".to_vec(),
        ..Default::default()
    });
    let err = load(&proto).unwrap_err();
    assert!(
        matches!(err, LoadError::Unsupported(ref m) if m.contains("PROBIT")),
        "{err}"
    );
}

fn set_card(proto: &mut ModelProto, value: &str) {
    proto.metadata_props.retain(|p| p.key != "model_card");
    proto.metadata_props.push(StringStringEntryProto {
        key: "model_card".into(),
        value: value.into(),
    });
}

/// A profile of one feature of the ridge fixture, as JSON.
fn profile(min: f64, max: f64) -> String {
    let mid = (min + max) / 2.0;
    format!(r#"{{"min": {min}, "max": {max}, "edges": [{mid}], "shares": [0.5, 0.5]}}"#)
}

#[test]
fn a_model_card_is_read_and_its_absence_tolerated() {
    let proto = ridge();
    assert!(load(&proto).unwrap().card().is_none());
    let mut with_card = proto.clone();
    let feature = load(&proto).unwrap().features()[0].clone();
    set_card(
        &mut with_card,
        &format!(
            r#"{{"features": {{"{feature}": {}}}, "score": {}}}"#,
            profile(0.0, 10.0),
            profile(3.0, 8.0)
        ),
    );
    let model = load(&with_card).unwrap();
    let card = model.card().expect("the card is read");
    assert_eq!(card.features[&feature].max, 10.0);
    assert_eq!(card.score.as_ref().unwrap().min, 3.0);
}

#[test]
fn an_unusable_model_card_is_refused_naming_what_is_wrong() {
    let feature = load(&ridge()).unwrap().features()[0].clone();
    for (card, says) in [
        ("not json".to_owned(), "expected ident at line 1"),
        (
            format!(
                r#"{{"features": {{"no_such_feature": {}}}}}"#,
                profile(0.0, 1.0)
            ),
            "feature `no_such_feature` is not one of the model's",
        ),
        (
            format!(r#"{{"features": {{"{feature}": {}}}}}"#, profile(5.0, 1.0)),
            "must be finite with min <= max",
        ),
        (
            r#"{"score": {"min": 0, "max": 1, "edges": [0.5], "shares": [0.7, 0.7]}}"#.to_owned(),
            "score: shares sum to",
        ),
        (
            r#"{"labels": {"good": 0.3}}"#.to_owned(),
            "labels: shares must",
        ),
        (r#"{"drift": 1}"#.to_owned(), "unknown field `drift`"),
        (
            r#"{"covers": {"trees": [10, -1, 11]}}"#.to_owned(),
            "covers of node `trees`: value 1 is negative",
        ),
    ] {
        let mut proto = ridge();
        set_card(&mut proto, &card);
        let err = load(&proto).unwrap_err();
        assert!(matches!(err, LoadError::BadModelCard(_)), "{card}: {err:?}");
        let message = err.to_string();
        assert!(message.contains(says), "{card}: {message}");
        assert!(message.contains("model_card"), "{message}");
    }
}

#[test]
fn covers_that_contradict_the_trees_fail_the_load_and_min_max_trees_serve_unexplained() {
    let trees = |name: &str| {
        let proto = ModelProto::decode(fixture(name).model_bytes().as_slice()).unwrap();
        let node = proto
            .graph
            .as_ref()
            .unwrap()
            .node
            .iter()
            .find(|n| n.op_type.starts_with("TreeEnsemble"))
            .unwrap()
            .clone();
        let n = node
            .attribute
            .iter()
            .find(|a| a.name == "nodes_nodeids")
            .unwrap()
            .ints
            .len();
        (proto, node.name, n)
    };
    // A MAX ensemble: its covers are read, the model serves, and says why it cannot explain.
    let (mut proto, name, n) = trees("trees_max");
    set_card(
        &mut proto,
        &format!(r#"{{"covers": {{"{name}": {:?}}}}}"#, vec![1.0; n]),
    );
    let model = load(&proto).unwrap();
    let why = model.explainability().unwrap_err();
    assert!(why.contains("MIN or MAX"), "{why}");

    // A SUM ensemble whose covers do not add up, or are too few, or name no node.
    let (proto, name, n) = trees("gradient_boosting");
    for (covers, says) in [
        (
            format!(r#"{{"{name}": {:?}}}"#, vec![1.0; n]),
            "covers of node",
        ),
        (format!(r#"{{"{name}": [1.0]}}"#), "covers"),
        (
            r#"{"no_such_trees": [1.0]}"#.to_owned(),
            "no tree ensemble of that name",
        ),
    ] {
        let mut proto = proto.clone();
        set_card(&mut proto, &format!(r#"{{"covers": {covers}}}"#));
        let err = load(&proto).unwrap_err();
        assert!(matches!(err, LoadError::BadModelCard(_)), "{err}");
        assert!(err.to_string().contains(says), "{err}");
    }
}
