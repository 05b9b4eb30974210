use tract_onnx::pb::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto::dimension,
    tensor_shape_proto::Dimension, type_proto, AttributeProto, GraphProto, ModelProto, NodeProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

use crate::schema::FeatureSchema;

#[rustfmt::skip]
const ML: &[&str] = &[
    "Scaler", "Imputer", "Binarizer", "LabelEncoder", "OneHotEncoder", "CategoryMapper",
    "FeatureVectorizer", "ArrayFeatureExtractor", "Normalizer", "LinearRegressor",
    "LinearClassifier", "TreeEnsembleRegressor", "TreeEnsembleClassifier", "TreeEnsemble",
    "SVMRegressor", "SVMClassifier", "ZipMap",
];

pub fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: name.into(),
        domain: if ML.contains(&op) {
            "ai.onnx.ml".into()
        } else {
            String::new()
        },
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..Default::default()
    }
}

fn a(name: &str, ty: AttributeType) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: ty as i32,
        ..Default::default()
    }
}

pub fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        i: v,
        ..a(name, AttributeType::Int)
    }
}

pub fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        ints: v.to_vec(),
        ..a(name, AttributeType::Ints)
    }
}

pub fn float(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        f: v,
        ..a(name, AttributeType::Float)
    }
}

pub fn floats(name: &str, v: &[f32]) -> AttributeProto {
    AttributeProto {
        floats: v.to_vec(),
        ..a(name, AttributeType::Floats)
    }
}

pub fn string(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        s: v.as_bytes().to_vec(),
        ..a(name, AttributeType::String)
    }
}

pub fn strings(name: &str, v: &[&str]) -> AttributeProto {
    AttributeProto {
        strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..a(name, AttributeType::Strings)
    }
}

pub fn init_f(name: &str, dims: &[i64], v: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        float_data: v.to_vec(),
        ..Default::default()
    }
}

/// Doubles in raw_data, as some exporters write them.
pub fn init_raw_f64(name: &str, dims: &[i64], v: &[f64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Double as i32,
        raw_data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

pub fn init_i(name: &str, dims: &[i64], v: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Int64 as i32,
        int64_data: v.to_vec(),
        ..Default::default()
    }
}

/// A `[N, dims...]` graph input or output.
pub fn value(name: &str, elem: DataType, dims: &[i64]) -> ValueInfoProto {
    let mut dim = vec![Dimension {
        value: Some(dimension::Value::DimParam("N".into())),
        ..Default::default()
    }];
    dim.extend(dims.iter().map(|&d| Dimension {
        value: Some(dimension::Value::DimValue(d)),
        ..Default::default()
    }));
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: elem as i32,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn graph(
    inputs: Vec<ValueInfoProto>,
    inits: Vec<TensorProto>,
    nodes: Vec<NodeProto>,
    outputs: &[&str],
) -> GraphProto {
    GraphProto {
        input: inputs,
        initializer: inits,
        node: nodes,
        output: outputs
            .iter()
            .map(|o| value(o, DataType::Float, &[1]))
            .collect(),
        ..Default::default()
    }
}

/// A graph reading one `[N, F]` float input `features`, named `names`.
pub fn matrix(
    names: &[&str],
    inits: Vec<TensorProto>,
    nodes: Vec<NodeProto>,
    outputs: &[&str],
) -> (GraphProto, FeatureSchema) {
    let g = graph(
        vec![value("features", DataType::Float, &[names.len() as i64])],
        inits,
        nodes,
        outputs,
    );
    let model = ModelProto {
        graph: Some(g.clone()),
        metadata_props: vec![StringStringEntryProto {
            key: crate::schema::FEATURE_NAMES_KEY.into(),
            value: serde_json::to_string(names).unwrap(),
        }],
        ..Default::default()
    };
    (
        g,
        FeatureSchema::from_model(&model).expect("a matrix schema"),
    )
}

/// A graph reading one `[N, 1]` input per feature, of the given types.
pub fn per_feature(
    inputs: &[(&str, DataType)],
    inits: Vec<TensorProto>,
    nodes: Vec<NodeProto>,
    outputs: &[&str],
) -> (GraphProto, FeatureSchema) {
    let g = graph(
        inputs.iter().map(|(n, t)| value(n, *t, &[1])).collect(),
        inits,
        nodes,
        outputs,
    );
    let model = ModelProto {
        graph: Some(g.clone()),
        ..Default::default()
    };
    (
        g,
        FeatureSchema::from_model(&model).expect("a per-feature schema"),
    )
}

/// Every committed `.onnx` fixture with a tree-ensemble or linear op (the explanation
/// fixtures included), by path under tests/fixtures, read as the model loader reads it
/// (ZipMap unwrapped), with its feature schema: a `[N, F]` input without `feature_names`
/// gets names `f0`, `f1`... (`None` where the loader refuses the schema anyway).
pub fn fixtures() -> Vec<(String, GraphProto, Option<FeatureSchema>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let leaves = [
        "TreeEnsembleRegressor",
        "TreeEnsembleClassifier",
        "TreeEnsemble",
        "LinearRegressor",
        "LinearClassifier",
    ];
    let mut out = Vec::new();
    for dir in [
        "",
        "ops",
        "class_labels",
        "typed",
        "tree_ensemble5",
        "explain",
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut paths: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
            .collect();
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path).unwrap();
            let name = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let Ok(mut proto) = tract_onnx::prelude::Framework::proto_model_for_read(
                &crate::ops::onnx(),
                &mut &*bytes,
            ) else {
                continue;
            };
            let mut schema = FeatureSchema::from_model(&proto);
            if let Err(crate::LoadError::NoFeatureNames { width, .. }) = &schema {
                let names: Vec<String> = (0..width.parse::<usize>().unwrap_or(0))
                    .map(|i| format!("f{i}"))
                    .collect();
                proto.metadata_props.push(StringStringEntryProto {
                    key: crate::schema::FEATURE_NAMES_KEY.into(),
                    value: serde_json::to_string(&names).unwrap(),
                });
                schema = FeatureSchema::from_model(&proto);
            }
            let graph = proto.graph.as_mut().unwrap();
            let _ = crate::outputs::unwrap_zipmap(graph);
            if graph
                .node
                .iter()
                .any(|n| leaves.contains(&n.op_type.as_str()))
            {
                out.push((name, graph.clone(), schema.ok()));
            }
        }
    }
    out
}

/// What an explanation fixture's JSON says its refusal must contain (`refusal`), if any.
pub fn expected_refusal(fixture: &str) -> Option<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture)
        .with_extension("json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    Some(json.get("refusal")?.as_str()?.to_owned())
}

/// A one-tree regressor over `features` columns (a stump on column 0), n_targets 1.
pub fn tree(name: &str, x: &str, y: &str, extra: Vec<AttributeProto>) -> NodeProto {
    let mut attrs = vec![
        int("n_targets", 1),
        ints("nodes_treeids", &[0, 0, 0]),
        ints("nodes_nodeids", &[0, 1, 2]),
        ints("nodes_featureids", &[0, 0, 0]),
        strings("nodes_modes", &["BRANCH_LEQ", "LEAF", "LEAF"]),
        floats("nodes_values", &[0.5, 0.0, 0.0]),
        ints("nodes_truenodeids", &[1, 0, 0]),
        ints("nodes_falsenodeids", &[2, 0, 0]),
        ints("target_treeids", &[0, 0]),
        ints("target_nodeids", &[1, 2]),
        ints("target_ids", &[0, 0]),
        floats("target_weights", &[1.0, 2.0]),
    ];
    attrs.extend(extra);
    node("TreeEnsembleRegressor", name, &[x], &[y], attrs)
}

/// A binary tree classifier (labels 0, 1) writing `label` and `probabilities`.
pub fn tree_classifier(name: &str, x: &str, outs: [&str; 2], post_transform: &str) -> NodeProto {
    node(
        "TreeEnsembleClassifier",
        name,
        &[x],
        &outs,
        vec![
            ints("classlabels_int64s", &[0, 1]),
            string("post_transform", post_transform),
            ints("nodes_treeids", &[0, 0, 0]),
            ints("nodes_nodeids", &[0, 1, 2]),
            ints("nodes_featureids", &[0, 0, 0]),
            strings("nodes_modes", &["BRANCH_LEQ", "LEAF", "LEAF"]),
            floats("nodes_values", &[0.5, 0.0, 0.0]),
            ints("nodes_truenodeids", &[1, 0, 0]),
            ints("nodes_falsenodeids", &[2, 0, 0]),
            ints("class_treeids", &[0, 0]),
            ints("class_nodeids", &[1, 2]),
            ints("class_ids", &[1, 1]),
            floats("class_weights", &[0.2, 0.8]),
        ],
    )
}
