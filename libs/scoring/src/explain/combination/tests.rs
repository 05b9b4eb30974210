use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::type_proto;

use super::super::lineage::build::*;
use super::*;

/// The answer tensor the loader decodes: the one output, or the float one of two.
fn answer(g: &GraphProto) -> String {
    let float = |o: &&tract_onnx::pb::ValueInfoProto| match o
        .r#type
        .as_ref()
        .and_then(|t| t.value.as_ref())
    {
        Some(type_proto::Value::TensorType(t)) => {
            t.elem_type == DataType::Float as i32 || t.elem_type == DataType::Double as i32
        }
        _ => false,
    };
    match g.output.as_slice() {
        [one] => one.name.clone(),
        many => many
            .iter()
            .find(float)
            .expect("a float output")
            .name
            .clone(),
    }
}

fn ok(g: &GraphProto, t: &str) -> Combination {
    combination(g, t).unwrap_or_else(|e| panic!("{e}"))
}

fn refused(g: &GraphProto, t: &str) -> Refusal {
    match combination(g, t) {
        Ok(c) => panic!("`{t}` was not refused: {c:?}"),
        Err(e) => e,
    }
}

/// Each column as (constant, [(leaf name, column, weight)]).
/// A column: its constant and (leaf name, column, weight) terms.
type Sum<'a> = (f64, Vec<(&'a str, usize, f64)>);

fn sums(c: &Combination) -> Vec<Sum<'_>> {
    c.columns
        .iter()
        .map(|col| {
            let terms = col
                .terms
                .iter()
                .map(|t| (c.leaves[t.leaf].name.as_str(), t.column, t.weight))
                .collect();
            (col.constant, terms)
        })
        .collect()
}

fn regressors(extra: Vec<NodeProto>, inits: Vec<tract_onnx::pb::TensorProto>) -> GraphProto {
    let mut nodes = vec![
        tree("t1", "features", "y1", vec![]),
        tree("t2", "features", "y2", vec![]),
    ];
    nodes.extend(extra);
    matrix(&["a", "b"], inits, nodes, &["out"]).0
}

#[test]
fn a_regressor_is_its_score() {
    let g = regressors(
        vec![
            node("Identity", "id", &["y1"], &["i"], vec![]),
            node("Cast", "cast", &["i"], &["c"], vec![int("to", 1)]),
            node("Reshape", "rs", &["c", "shape"], &["out"], vec![]),
        ],
        vec![init_i("shape", &[1], &[-1])],
    );
    let c = ok(&g, "out");
    assert_eq!((c.space(), c.link), ("score", Link::Identity));
    assert_eq!(sums(&c), vec![(0.0, vec![("t1", 0, 1.0)])]);
    let leaf = &c.leaves[0];
    assert_eq!(
        (
            leaf.node,
            leaf.op_type.as_str(),
            leaf.input.as_str(),
            leaf.width,
            leaf.classifier
        ),
        (0, "TreeEnsembleRegressor", "features", 1, false)
    );
}

#[test]
fn split_targets_and_n_targets_from_target_ids() {
    let mut untold = tree("untold", "features", "u", vec![]);
    untold.attribute.retain(|a| a.name != "n_targets");
    let nodes = vec![
        node(
            "TreeEnsemble",
            "two",
            &["features"],
            &["y"],
            vec![int("n_targets", 2)],
        ),
        node(
            "Split",
            "split",
            &["y"],
            &["y0", "y1"],
            vec![int("axis", 1)],
        ),
        untold,
    ];
    let (g, _) = matrix(&["a"], vec![], nodes, &["y1"]);
    assert_eq!(sums(&ok(&g, "y1")), vec![(0.0, vec![("two", 1, 1.0)])]);
    assert_eq!(ok(&g, "u").leaves[0].width, 1);
}

#[test]
fn a_voting_regressor_weighs_its_ensembles() {
    // skl2onnx's VotingRegressor: each prediction times its weight, then summed.
    let g = regressors(
        vec![
            node("Mul", "m1", &["y1", "w1"], &["a"], vec![]),
            node("Mul", "m2", &["w2", "y2"], &["b"], vec![]),
            node("Flatten", "f", &["a"], &["af"], vec![]),
            node("Sum", "sum", &["af", "b", "bias"], &["s"], vec![]),
            node("Div", "div", &["s", "two"], &["d"], vec![]),
            node("Sub", "sub", &["d", "one"], &["e"], vec![]),
            node("Neg", "neg", &["e"], &["n"], vec![]),
            node("Mean", "mean", &["n", "y1"], &["out"], vec![]),
        ],
        vec![
            init_f("w1", &[1], &[0.25]),
            init_raw_f64("w2", &[], &[0.75]),
            init_f("bias", &[1, 1], &[1.0]),
            init_f("two", &[], &[2.0]),
            init_f("one", &[], &[1.0]),
        ],
    );
    // mean(-( (0.25 y1 + 0.75 y2 + 1) / 2 - 1 ), y1) = 0.25 + 0.4375 y1 - 0.1875 y2
    let c = ok(&g, "out");
    assert_eq!(
        sums(&c),
        vec![(0.25, vec![("t1", 0, 0.4375), ("t2", 0, -0.1875)])]
    );
    assert_eq!(c.space(), "score");
}

#[test]
fn stacking_weighs_ensembles_by_the_final_linear_regressor() {
    let g = regressors(
        vec![
            node(
                "Concat",
                "cat",
                &["y1", "y2"],
                &["stack"],
                vec![int("axis", 1)],
            ),
            node(
                "LinearRegressor",
                "final",
                &["stack"],
                &["out"],
                vec![
                    floats("coefficients", &[2.0, -1.0]),
                    floats("intercepts", &[0.5]),
                ],
            ),
        ],
        vec![],
    );
    let c = ok(&g, "out");
    assert_eq!(sums(&c), vec![(0.5, vec![("t1", 0, 2.0), ("t2", 0, -1.0)])]);
    assert_eq!(c.leaves.len(), 2, "the final estimator is not a leaf");
}

#[test]
fn a_linear_op_reading_features_is_a_leaf() {
    let nodes = vec![
        node(
            "Scaler",
            "sc",
            &["features"],
            &["s"],
            vec![floats("offset", &[0., 0.]), floats("scale", &[1., 1.])],
        ),
        node(
            "LinearRegressor",
            "lin",
            &["s"],
            &["out"],
            vec![
                floats("coefficients", &[2.0, -1.0]),
                floats("intercepts", &[0.5]),
            ],
        ),
    ];
    let (g, _) = matrix(&["a", "b"], vec![], nodes, &["out"]);
    let c = ok(&g, "out");
    assert_eq!(sums(&c), vec![(0.0, vec![("lin", 0, 1.0)])]);
    assert_eq!(c.leaves[0].input, "s");
}

#[test]
fn matmul_and_gemm_by_constants_are_affine() {
    let g = regressors(
        vec![
            node(
                "Concat",
                "cat",
                &["y1", "y2"],
                &["stack"],
                vec![int("axis", -1)],
            ),
            node("MatMul", "mm", &["stack", "w"], &["m"], vec![]),
            node(
                "Gemm",
                "gemm",
                &["stack", "wt", "c"],
                &["out"],
                vec![int("transB", 1), float("alpha", 2.0)],
            ),
        ],
        vec![
            init_f("w", &[2, 1], &[3., 4.]),
            init_f("wt", &[1, 2], &[3., 4.]),
            init_f("c", &[1], &[1.]),
        ],
    );
    assert_eq!(
        sums(&ok(&g, "m")),
        vec![(0.0, vec![("t1", 0, 3.0), ("t2", 0, 4.0)])]
    );
    assert_eq!(
        sums(&ok(&g, "out")),
        vec![(1.0, vec![("t1", 0, 6.0), ("t2", 0, 8.0)])]
    );
}

#[test]
fn a_classifier_with_a_link_is_explained_in_margins() {
    let nodes = vec![
        tree_classifier("gbc", "features", ["label", "p"], "LOGISTIC"),
        node("Identity", "", &["p"], &["pi"], vec![]),
        node("Mul", "", &["pi", "one"], &["probabilities"], vec![]),
        node("Mul", "half", &["pi", "half_w"], &["halved"], vec![]),
        node("Add", "plus", &["pi", "pi"], &["doubled"], vec![]),
        node("Softmax", "softmax", &["pi"], &["soft"], vec![]),
    ];
    let (g, _) = matrix(
        &["a"],
        vec![init_f("one", &[], &[1.0]), init_f("half_w", &[], &[0.5])],
        nodes,
        &["label", "probabilities"],
    );
    let c = ok(&g, "probabilities");
    assert_eq!((c.space(), c.link), ("margin", Link::Logistic));
    assert_eq!(
        sums(&c),
        vec![(0.0, vec![("gbc", 0, 1.0)]), (0.0, vec![("gbc", 1, 1.0)])]
    );
    assert!(c.leaves[0].classifier);
    let r = refused(&g, "halved");
    assert_eq!(
        r.to_string(),
        "node `half` (Mul) combines values after the LOGISTIC post_transform of node `gbc`, \
         where the contributions no longer add up"
    );
    assert_eq!(refused(&g, "doubled").node, "plus");
    let r = refused(&g, "soft");
    assert_eq!(
        (r.node.as_str(), r.op_type.as_str()),
        ("softmax", "Softmax")
    );
    assert!(
        r.reason.contains("after the LOGISTIC post_transform"),
        "{r}"
    );
    let r = refused(&g, "label");
    assert_eq!(r.to_string(), "node `gbc` (TreeEnsembleClassifier) gives the answer its label output, not its probabilities");
}

#[test]
fn probabilities_without_a_link_average() {
    let nodes = vec![
        tree_classifier("rf1", "features", ["l1", "p1"], "NONE"),
        tree_classifier("rf2", "features", ["l2", "p2"], "NONE"),
        node("Mean", "vote", &["p1", "p2"], &["probabilities"], vec![]),
    ];
    let (g, _) = matrix(&["a"], vec![], nodes, &["probabilities"]);
    let c = ok(&g, "probabilities");
    assert_eq!((c.space(), c.link), ("probability", Link::Identity));
    assert_eq!(sums(&c)[1], (0.0, vec![("rf1", 1, 0.5), ("rf2", 1, 0.5)]));
}

#[test]
fn averaging_probabilities_after_a_link_is_refused() {
    let nodes = vec![
        tree_classifier("gb1", "features", ["l1", "p1"], "LOGISTIC"),
        tree_classifier("gb2", "features", ["l2", "p2"], "LOGISTIC"),
        node("Mean", "vote", &["p1", "p2"], &["probabilities"], vec![]),
    ];
    let (g, _) = matrix(&["a"], vec![], nodes, &["probabilities"]);
    assert_eq!(refused(&g, "probabilities").node, "vote");
}

#[test]
fn a_stacking_classifier_links_through_its_final_estimator() {
    let nodes = vec![
        tree_classifier("rf1", "features", ["l1", "p1"], "NONE"),
        tree_classifier("rf2", "features", ["l2", "p2"], "NONE"),
        node(
            "ArrayFeatureExtractor",
            "pick1",
            &["p1", "col1"],
            &["q1"],
            vec![],
        ),
        node(
            "ArrayFeatureExtractor",
            "pick2",
            &["p2", "col1"],
            &["q2"],
            vec![],
        ),
        node(
            "Concat",
            "cat",
            &["q1", "q2"],
            &["stack"],
            vec![int("axis", 1)],
        ),
        node(
            "LinearClassifier",
            "final",
            &["stack"],
            &["label", "probabilities"],
            vec![
                ints("classlabels_ints", &[0, 1]),
                floats("coefficients", &[-1., -2., 1., 2.]),
                floats("intercepts", &[-0.5, 0.5]),
                string("post_transform", "LOGISTIC"),
            ],
        ),
        node(
            "LinearClassifier",
            "one_row",
            &["stack"],
            &["l3", "p3"],
            vec![
                ints("classlabels_ints", &[0, 1]),
                floats("coefficients", &[1., 2.]),
            ],
        ),
    ];
    let (g, _) = matrix(
        &["a"],
        vec![init_i("col1", &[1], &[1])],
        nodes,
        &["label", "probabilities"],
    );
    let c = ok(&g, "probabilities");
    assert_eq!((c.space(), c.link), ("margin", Link::Logistic));
    assert_eq!(
        sums(&c),
        vec![
            (-0.5, vec![("rf1", 1, -1.0), ("rf2", 1, -2.0)]),
            (0.5, vec![("rf1", 1, 1.0), ("rf2", 1, 2.0)])
        ]
    );
    assert!(refused(&g, "p3")
        .reason
        .contains("1 coefficient rows for 2 classes"));
    assert_eq!(refused(&g, "label").node, "final");
}

#[test]
fn softmax_then_l1_normalizer_is_the_softmax() {
    // skl2onnx's multinomial LogisticRegression.
    let lin = |name: &str, out: &str, pt: &str| {
        node(
            "LinearClassifier",
            name,
            &["features"],
            &[&format!("{out}_label"), out],
            vec![
                ints("classlabels_ints", &[0, 1, 2]),
                floats("coefficients", &[1., 2., 3.]),
                floats("intercepts", &[0., 0., 0.]),
                string("post_transform", pt),
            ],
        )
    };
    let nodes = vec![
        lin("soft", "ps", "SOFTMAX"),
        node(
            "Normalizer",
            "l1",
            &["ps"],
            &["probabilities"],
            vec![string("norm", "L1")],
        ),
        lin("ovr", "po", "LOGISTIC"),
        node(
            "Normalizer",
            "l1_ovr",
            &["po"],
            &["ovr_probabilities"],
            vec![string("norm", "L1")],
        ),
        node(
            "Normalizer",
            "l2",
            &["ps"],
            &["l2_probabilities"],
            vec![string("norm", "L2")],
        ),
    ];
    let (g, _) = matrix(&["a"], vec![], nodes, &["probabilities"]);
    let c = ok(&g, "probabilities");
    assert_eq!((c.space(), c.link), ("margin", Link::Softmax));
    assert_eq!(c.columns.len(), 3);
    assert_eq!(refused(&g, "ovr_probabilities").node, "l1_ovr");
    assert_eq!(refused(&g, "l2_probabilities").node, "l2");
}

#[test]
fn a_softmax_or_sigmoid_op_after_the_trees_is_their_link() {
    // ml opset 5: TreeEnsemble writes margins, a Softmax op the probabilities.
    let nodes = vec![
        node(
            "TreeEnsemble",
            "trees",
            &["features"],
            &["margins"],
            vec![int("n_targets", 3)],
        ),
        node(
            "Softmax",
            "softmax",
            &["margins"],
            &["probabilities"],
            vec![int("axis", 1)],
        ),
        node("Sigmoid", "sigmoid", &["margins"], &["ovr"], vec![]),
        node("Softmax", "twice", &["probabilities"], &["again"], vec![]),
        node("Unsqueeze", "u", &["margins", "one"], &["m3"], vec![]),
        node("Softmax", "rank3", &["m3"], &["p3"], vec![]),
    ];
    let (g, _) = matrix(
        &["a"],
        vec![init_i("one", &[1], &[1])],
        nodes,
        &["probabilities"],
    );
    let c = ok(&g, "probabilities");
    assert_eq!(
        (c.space(), c.link, c.columns.len()),
        ("margin", Link::Softmax, 3)
    );
    assert_eq!(sums(&c)[2], (0.0, vec![("trees", 2, 1.0)]));
    assert_eq!(ok(&g, "ovr").link, Link::Logistic);
    assert_eq!(refused(&g, "again").node, "twice");
    assert_eq!(refused(&g, "p3").node, "rank3");
}

#[test]
fn opset5_tree_ensemble_reads_an_integer_post_transform() {
    let te = |name: &str, out: &str, pt: i64| {
        node(
            "TreeEnsemble",
            name,
            &["features"],
            &[out],
            vec![int("n_targets", 2), int("post_transform", pt)],
        )
    };
    let (g, _) = matrix(
        &["a"],
        vec![],
        vec![
            te("none", "y0", 0),
            te("logistic", "y2", 2),
            te("bad", "y9", 9),
        ],
        &["y0"],
    );
    assert_eq!(ok(&g, "y0").space(), "score");
    assert_eq!(ok(&g, "y0").columns.len(), 2);
    assert_eq!(ok(&g, "y2").link, Link::Logistic);
    assert_eq!(
        refused(&g, "y9").to_string(),
        "node `bad` (TreeEnsemble) has a post_transform this does not know"
    );
}

#[test]
fn a_bagging_regressor_averages_its_estimators() {
    let g = regressors(
        vec![
            node(
                "Concat",
                "cat",
                &["y1", "y2"],
                &["both"],
                vec![int("axis", 1)],
            ),
            node(
                "ReduceMean",
                "mean",
                &["both"],
                &["out"],
                vec![ints("axes", &[1])],
            ),
            node(
                "ReduceSum",
                "sum",
                &["both", "ax"],
                &["total"],
                vec![int("keepdims", 0)],
            ),
            node("ReduceSum", "all", &["both"], &["everything"], vec![]),
        ],
        vec![init_i("ax", &[1], &[-1])],
    );
    assert_eq!(
        sums(&ok(&g, "out")),
        vec![(0.0, vec![("t1", 0, 0.5), ("t2", 0, 0.5)])]
    );
    assert_eq!(
        sums(&ok(&g, "total")),
        vec![(0.0, vec![("t1", 0, 1.0), ("t2", 0, 1.0)])]
    );
    assert!(refused(&g, "everything").reason.contains("rows"));
}

#[test]
fn a_bagging_regressor_stacks_on_axis_0_and_averages() {
    // skl2onnx's BaggingRegressor: [N, 1] -> [1, N, 1], Concat on axis 0, ReduceMean
    // over axis 0.
    let g = regressors(
        vec![
            node("Reshape", "r1", &["y1", "lead"], &["s1"], vec![]),
            node("Unsqueeze", "r2", &["y2", "zero"], &["s2"], vec![]),
            node(
                "Concat",
                "stack",
                &["s1", "s2"],
                &["st"],
                vec![int("axis", 0)],
            ),
            node(
                "ReduceMean",
                "mean",
                &["st"],
                &["out"],
                vec![ints("axes", &[0]), int("keepdims", 0)],
            ),
            node("ReduceSum", "sum", &["st", "zero"], &["kept"], vec![]),
            node("Squeeze", "sq", &["kept", "zero"], &["total"], vec![]),
            node(
                "ReduceMean",
                "wrong",
                &["st"],
                &["bad"],
                vec![ints("axes", &[1])],
            ),
            node("Add", "add", &["st", "y1"], &["bad2"], vec![]),
        ],
        vec![
            init_i("lead", &[3], &[1, -1, 1]),
            init_i("zero", &[1], &[0]),
        ],
    );
    assert_eq!(
        sums(&ok(&g, "out")),
        vec![(0.0, vec![("t1", 0, 0.5), ("t2", 0, 0.5)])]
    );
    assert_eq!(
        sums(&ok(&g, "total")),
        vec![(0.0, vec![("t1", 0, 1.0), ("t2", 0, 1.0)])]
    );
    assert_eq!(
        refused(&g, "kept").reason,
        "has its rows on axis 1, not axis 0"
    );
    assert_eq!(refused(&g, "bad").node, "wrong");
    assert_eq!(refused(&g, "bad2").node, "add");
}

#[test]
fn a_stacking_with_passthrough_columns_is_refused_by_name() {
    let g = regressors(
        vec![
            node(
                "Scaler",
                "scale",
                &["features"],
                &["scaled"],
                vec![floats("offset", &[0., 0.]), floats("scale", &[1., 1.])],
            ),
            node(
                "Concat",
                "cat",
                &["y1", "y2", "scaled"],
                &["stack"],
                vec![int("axis", 1)],
            ),
            node(
                "LinearRegressor",
                "final",
                &["stack"],
                &["out"],
                vec![floats("coefficients", &[1., 1., 1., 1.])],
            ),
        ],
        vec![],
    );
    let r = refused(&g, "out");
    assert_eq!((r.node.as_str(), r.op_type.as_str()), ("scale", "Scaler"));
    assert!(r.reason.contains("passthrough"), "{r}");
}

#[test]
fn a_cycle_is_refused() {
    let nodes = vec![
        node("Add", "a", &["b", "one"], &["a"], vec![]),
        node("Identity", "b", &["a"], &["b"], vec![]),
    ];
    let (g, _) = matrix(&["x"], vec![init_f("one", &[], &[1.])], nodes, &["a"]);
    assert_eq!(refused(&g, "a").reason, "is part of a cycle in the graph");
}

#[test]
fn what_does_not_come_from_trees_or_linear_ops_is_refused_by_name() {
    let nodes = vec![
        tree("t1", "features", "y1", vec![]),
        node(
            "Add",
            "passthrough",
            &["y1", "features"],
            &["plus_input"],
            vec![],
        ),
        node("Mul", "square", &["y1", "y1"], &["squared"], vec![]),
        node("Div", "inverse", &["one", "y1"], &["inv"], vec![]),
        node("SVMRegressor", "svr", &["features"], &["sv"], vec![]),
        node("Exp", "exp", &["y1"], &["sg"], vec![]),
        node("Einsum", "", &["y1"], &["es"], vec![]),
        node(
            "Concat",
            "cat",
            &["y1", "one2"],
            &["with_const"],
            vec![int("axis", 1)],
        ),
    ];
    let (g, _) = matrix(
        &["a"],
        vec![init_f("one", &[], &[1.]), init_f("one2", &[1, 1], &[1.])],
        nodes,
        &["y1"],
    );
    assert_eq!(
        refused(&g, "plus_input").to_string(),
        "tensor `features` reaches the answer directly, not through a tree ensemble or linear op"
    );
    assert_eq!(refused(&g, "squared").node, "square");
    assert_eq!(refused(&g, "inv").node, "inverse");
    assert_eq!(
        refused(&g, "sv").to_string(),
        "node `svr` (SVMRegressor) is not a tree ensemble or linear op: only those are explained"
    );
    assert_eq!(refused(&g, "sg").op_type, "Exp");
    assert_eq!(refused(&g, "es").to_string(), "node `es` (Einsum) is an operator the combination does not follow: the answer cannot be traced through it to tree ensemble or linear op outputs");
    assert_eq!(refused(&g, "with_const").node, "cat");
    assert_eq!(
        refused(&g, "one").to_string(),
        "tensor `one` does not depend on any tree ensemble or linear op"
    );
}

#[test]
fn committed_fixtures_combine_in_the_space_their_reference_says() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut checked = 0;
    let mut against_reference = 0;
    for (name, g, _) in fixtures() {
        let c = match (combination(&g, &answer(&g)), expected_refusal(&name)) {
            (Ok(c), _) => c,
            (Err(e), Some(want)) if name.starts_with("explain/") => {
                assert!(e.to_string().contains(&want), "{name}: {e} lacks {want}");
                continue;
            }
            (Err(e), _) => panic!("{name}: {e}"),
        };
        assert!(!c.leaves.is_empty() && !c.columns.is_empty(), "{name}");
        for col in &c.columns {
            assert!(!col.terms.is_empty(), "{name}: a column from no leaf");
        }
        // The explanation fixtures say which space their reference is in.
        let json = root.join(&name).with_extension("json");
        if name.starts_with("explain/") && json.exists() {
            let j: serde_json::Value =
                serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
            if let Some(space) = j.get("space").and_then(|s| s.as_str()) {
                assert_eq!(c.space(), space, "{name}");
                against_reference += 1;
            }
        }
        checked += 1;
    }
    assert!(checked >= 90, "only {checked}");
    assert!(against_reference >= 10, "only {against_reference}");
}

#[test]
fn fixture_combinations() {
    let by_name: HashMap<String, GraphProto> =
        fixtures().into_iter().map(|(n, g, _)| (n, g)).collect();
    let c = |name: &str| ok(&by_name[name], &answer(&by_name[name]));
    let voting = c("explain/voting_regressor.onnx");
    assert_eq!(
        sums(&voting),
        vec![(
            0.0,
            vec![
                ("TreeEnsembleRegressor", 0, 0.5),
                ("TreeEnsembleRegressor1", 0, 0.5)
            ]
        )]
    );
    let opset5 = c("explain/gbr_tree_ensemble_opset5.onnx");
    assert!(
        opset5.columns[0].constant != 0.0,
        "the bias added after the trees"
    );
    let lgbm = c("ops/lightgbm_binary.onnx");
    assert_eq!(
        (lgbm.space(), lgbm.link, lgbm.leaves[0].name.as_str()),
        ("margin", Link::Logistic, "LgbmClassifier")
    );
    let logreg = c("ops/logistic_regression_multiclass.onnx");
    assert_eq!((logreg.space(), logreg.link), ("margin", Link::Softmax));
    let rf = c("typed/rf_binary.onnx");
    assert_eq!((rf.space(), rf.columns.len()), ("probability", 2));
    let te5 = c("tree_ensemble5/te5_classifier.onnx");
    assert_eq!(
        (te5.space(), te5.link, te5.columns.len()),
        ("margin", Link::Softmax, 3)
    );
    let ct = c("typed/ct_gbc_multiclass.onnx");
    assert_eq!(
        (ct.space(), ct.link, ct.columns.len()),
        ("margin", Link::Softmax, 4)
    );
}

#[test]
fn an_svr_fixture_is_refused_by_name() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/explain/refuse_svr.onnx"
    ))
    .unwrap();
    let proto =
        tract_onnx::prelude::Framework::proto_model_for_read(&crate::ops::onnx(), &mut &*bytes)
            .unwrap();
    let g = proto.graph.unwrap();
    let r = refused(&g, &answer(&g));
    assert!(r.to_string().contains("(SVMRegressor)"), "{r}");
}
