//! Models for the functions' tests, from the committed scoring fixtures.

use prost::Message;
use tract_onnx::pb::ModelProto;

use crate::moto::repository_root;

/// The typed fixture `ct_regressor` (numeric and categorical columns) with its one-hot
/// encoders set to refuse unknown categories: ONNX `zeros = 0`, what skl2onnx writes for
/// `OneHotEncoder(handle_unknown="error")`. Its string features are `color` and `region`.
pub fn strict_categorical_model() -> Vec<u8> {
    let path = repository_root().join("libs/scoring/tests/fixtures/typed/ct_regressor.onnx");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut proto = ModelProto::decode(bytes.as_slice()).expect("a committed ONNX fixture");
    let graph = proto.graph.as_mut().expect("a graph");
    for node in graph
        .node
        .iter_mut()
        .filter(|n| n.op_type == "OneHotEncoder")
    {
        for attribute in node.attribute.iter_mut().filter(|a| a.name == "zeros") {
            attribute.i = 0;
        }
    }
    proto.encode_to_vec()
}

/// A row of `ct_regressor`'s features whose categories the model knows; `color` and
/// `region` may be changed to try others.
pub fn strict_categorical_row() -> serde_json::Map<String, serde_json::Value> {
    let path = repository_root().join("libs/scoring/tests/fixtures/typed/ct_regressor.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let fixture: serde_json::Value = serde_json::from_str(&text).expect("fixture JSON");
    let model = scoring::Model::load(&strict_categorical_model(), "strict").expect("loads");
    fixture["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r.as_object())
        .find(|r| model.predict_row(*r).is_ok())
        .expect("a row with known categories")
        .clone()
}
