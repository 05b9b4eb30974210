//! ai.onnx.ml opset 5 `TreeEnsemble` against onnxruntime: `tests/fixtures/tree_ensemble5/`,
//! written by `model/fixtures_tree_ensemble5.py` (the hand-built opset 1/3 ensembles in the
//! opset 5 encoding, BRANCH_MEMBER nodes, a one-leaf tree, shuffled listings, and a
//! classifier-like graph), and the refusals of what cannot be answered exactly.

use crate::common;

use common::{max_abs_diff, Fixture};
use prost::Message;
use std::collections::HashMap;

use scoring::{LoadError, Model, Predictions};
use tract_onnx::pb::{attribute_proto::AttributeType, AttributeProto, ModelProto};
use tract_onnx::prelude::*;

const TOLERANCE: f32 = 1e-4;

fn fixture(name: &str) -> Fixture {
    let manifest = std::fs::read_to_string(common::dir().join("tree_ensemble5/manifest.json"))
        .expect("tree_ensemble5 manifest");
    let all: Vec<Fixture> = serde_json::from_str(&manifest).expect("valid JSON");
    all.into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no fixture named {name}"))
}

/// A single-target fixture loads through `Model::load` and scores like onnxruntime, in
/// one batch and row by row.
fn check_regressor(name: &str) {
    let f = fixture(name);
    assert!(f.ops.iter().any(|o| o == "TreeEnsemble"), "{:?}", f.ops);
    let model = Model::load(&f.model_bytes(), "fixture").unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(model.features(), f.features.as_slice());
    let x = f.inputs();
    let want = f.expected();
    let got = model.score_matrix(&x).unwrap();
    let diff = max_abs_diff(&got, &want);
    assert!(
        diff <= TOLERANCE,
        "{name}: max |ours - onnxruntime| = {diff}"
    );
    let width = f.features.len();
    for (i, row) in x.chunks_exact(width).take(100).enumerate() {
        let one = model.score_matrix(row).unwrap();
        assert!(
            (one[0] - want[i]).abs() <= TOLERANCE,
            "{name}: row {i} alone {} vs onnxruntime {}",
            one[0],
            want[i]
        );
    }
}

#[test]
fn member_nodes_all_modes_nan_and_a_one_leaf_tree() {
    check_regressor("te5_modes_member");
}

#[test]
fn average_counts_the_one_leaf_trees() {
    check_regressor("te5_average");
}

/// Two targets: the loader refuses an `[N, 2]` answer, so the operator is checked through
/// the bare tract front end with this crate's ops.
#[test]
fn multi_target_operator() {
    let f = fixture("te5_multi_target");
    assert_eq!(f.targets, 2);
    let width = f.features.len();
    let mut model = scoring::ops::onnx()
        .model_for_read(&mut f.model_bytes().as_slice())
        .unwrap();
    model
        .set_input_fact(0, f32::fact([f.rows, width]).into())
        .unwrap();
    let plan = model.into_optimized().unwrap().into_runnable().unwrap();
    let x = Tensor::from_shape(&[f.rows, width], &f.inputs()).unwrap();
    let out = plan.run(tvec![x.into_tvalue()]).unwrap();
    assert_eq!(out[0].shape(), &[f.rows, 2]);
    let got = out[0]
        .try_as_plain_ram()
        .unwrap()
        .as_slice::<f32>()
        .unwrap()
        .to_vec();
    let diff = max_abs_diff(&got, &f.expected());
    assert!(diff <= TOLERANCE, "max diff {diff}");
}

/// TreeEnsemble -> Softmax for the probabilities, ArgMax -> Gather on the labels for the
/// label: a classifier to the loader, with onnxruntime's labels and probabilities.
#[test]
fn classifier_like_graph() {
    let f = fixture("te5_classifier");
    let model = Model::load(&f.model_bytes(), "fixture").unwrap_or_else(|e| panic!("{e}"));
    let x = f.inputs();
    let want = f.expected(); // per row: label, then 3 probabilities
    let width = f.features.len();
    // Complete rows, by feature name (NaN is a missing value there, refused by name).
    let rows: Vec<(usize, HashMap<String, f64>)> = x
        .chunks_exact(width)
        .enumerate()
        .filter(|(_, r)| r.iter().all(|v| v.is_finite()))
        .map(|(i, r)| {
            let row = f.features.iter().cloned().zip(r.iter().map(|&v| v as f64));
            (i, row.collect())
        })
        .collect();
    assert!(rows.len() >= 300, "{} complete rows", rows.len());
    let named: Vec<&HashMap<String, f64>> = rows.iter().map(|(_, r)| r).collect();
    let Predictions::Classes {
        classes,
        labels,
        probabilities,
    } = model.predict_rows(&named).unwrap()
    else {
        panic!("a classifier's answers");
    };
    let names: Vec<String> = classes.iter().map(|c| c.to_string()).collect();
    assert_eq!(names, ["3", "5", "7"]);
    for (k, (r, _)) in rows.iter().enumerate() {
        let row = &want[r * 4..(r + 1) * 4];
        assert_eq!(names[labels[k]], (row[0] as i64).to_string(), "row {r}");
        let diff = max_abs_diff(&probabilities[k * 3..(k + 1) * 3], &row[1..]);
        assert!(diff <= TOLERANCE, "row {r}: probabilities differ by {diff}");
    }
}

fn te5_proto() -> ModelProto {
    ModelProto::decode(fixture("te5_modes_member").model_bytes().as_slice()).unwrap()
}

fn trees(proto: &mut ModelProto) -> &mut tract_onnx::pb::NodeProto {
    proto
        .graph
        .as_mut()
        .unwrap()
        .node
        .iter_mut()
        .find(|n| n.op_type == "TreeEnsemble")
        .unwrap()
}

fn set_int(proto: &mut ModelProto, name: &str, value: i64) {
    let node = trees(proto);
    node.attribute.retain(|a| a.name != name);
    node.attribute.push(AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: value,
        ..Default::default()
    });
}

fn refusal(proto: &ModelProto) -> String {
    match Model::load(&proto.encode_to_vec(), "v") {
        Ok(_) => panic!("loaded"),
        Err(e @ LoadError::Unsupported(_)) => e.to_string(),
        Err(e) => panic!("not an Unsupported refusal: {e:?}"),
    }
}

/// SOFTMAX (1) and LOGISTIC (2): onnxruntime reads them swapped and ignores them for one
/// target, so neither answer would be onnxruntime's and the spec's at once.
#[test]
fn post_transforms_onnxruntime_reads_otherwise_are_refused() {
    for (v, name) in [(1, "SOFTMAX"), (2, "LOGISTIC")] {
        let mut proto = te5_proto();
        set_int(&mut proto, "post_transform", v);
        let err = refusal(&proto);
        assert!(
            err.contains(name) && err.contains("onnxruntime") && err.contains("Sigmoid"),
            "{err}"
        );
        assert!(err.contains("TreeEnsemble trees"), "names the node: {err}");
    }
    let mut proto = te5_proto();
    set_int(&mut proto, "post_transform", 3);
    assert!(refusal(&proto).contains("SOFTMAX_ZERO"));
}

#[test]
fn malformed_ensembles_are_refused_by_name() {
    // One set fewer than member nodes.
    let mut proto = te5_proto();
    let node = trees(&mut proto);
    let mv = node
        .attribute
        .iter_mut()
        .find(|a| a.name == "membership_values")
        .unwrap();
    let t = mv.t.as_mut().unwrap();
    // numpy_helper writes raw little-endian f32.
    let values: Vec<f32> = t
        .raw_data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let nan_at = values.iter().position(|v| v.is_nan()).unwrap();
    t.raw_data.drain(..(nan_at + 1) * 4);
    t.dims = vec![(values.len() - nan_at - 1) as i64];
    let err = refusal(&proto);
    assert!(
        err.contains("membership_values") && err.contains("BRANCH_MEMBER"),
        "{err}"
    );

    // A root out of range, and a tree dropped: its nodes belong to no tree.
    let mut proto = te5_proto();
    let node = trees(&mut proto);
    let roots = node
        .attribute
        .iter_mut()
        .find(|a| a.name == "tree_roots")
        .unwrap();
    roots.ints[0] = 100_000;
    assert!(refusal(&proto).contains("tree_roots names node 100000"));
    let mut proto = te5_proto();
    let node = trees(&mut proto);
    let roots = node
        .attribute
        .iter_mut()
        .find(|a| a.name == "tree_roots")
        .unwrap();
    roots.ints.remove(0);
    assert!(refusal(&proto).contains("is reached from no tree root"));

    // An attribute this reader does not know would change the answers unseen.
    let mut proto = te5_proto();
    set_int(&mut proto, "nodes_something_new", 1);
    assert!(refusal(&proto).contains("nodes_something_new"));
}

/// A double input: the forest compares in float32, exact only for float inputs.
#[test]
fn double_inputs_are_refused() {
    let mut proto = te5_proto();
    let graph = proto.graph.as_mut().unwrap();
    let set_double = |v: &mut tract_onnx::pb::ValueInfoProto| {
        if let Some(tract_onnx::pb::type_proto::Value::TensorType(t)) =
            v.r#type.as_mut().and_then(|t| t.value.as_mut())
        {
            t.elem_type = tract_onnx::pb::tensor_proto::DataType::Double as i32;
        }
    };
    graph.input.iter_mut().for_each(set_double);
    graph.output.iter_mut().for_each(set_double);
    let base = graph
        .initializer
        .iter_mut()
        .find(|t| t.name == "base_values")
        .unwrap();
    base.raw_data = base
        .raw_data
        .chunks_exact(4)
        .flat_map(|b| (f32::from_le_bytes(b.try_into().unwrap()) as f64).to_le_bytes())
        .collect();
    base.data_type = tract_onnx::pb::tensor_proto::DataType::Double as i32;
    let err = refusal(&proto);
    assert!(err.contains("only float"), "{err}");
}
