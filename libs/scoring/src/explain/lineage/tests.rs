use tract_onnx::pb::tensor_proto::DataType;

use super::build::*;
use super::Source::{Constant as C, Feature as F};
use super::*;

fn ok(g: &GraphProto, s: &FeatureSchema, t: &str) -> Vec<Source> {
    columns(g, s, t).unwrap_or_else(|e| panic!("{e}"))
}

fn refused(g: &GraphProto, s: &FeatureSchema, t: &str) -> Refusal {
    match columns(g, s, t) {
        Ok(c) => panic!("`{t}` was not refused: {c:?}"),
        Err(e) => e,
    }
}

#[test]
fn a_matrix_input_is_its_features() {
    let (g, s) = matrix(&["a", "b", "c"], vec![], vec![], &["features"]);
    assert_eq!(ok(&g, &s, "features"), vec![F(0), F(1), F(2)]);
}

#[test]
fn cellwise_ops_keep_each_column() {
    let nodes = vec![
        node(
            "Imputer",
            "imp",
            &["features"],
            &["i"],
            vec![
                floats("imputed_value_floats", &[1., 2., 3.]),
                float("replaced_value_float", f32::NAN),
            ],
        ),
        node(
            "Scaler",
            "sc",
            &["i"],
            &["s"],
            vec![
                floats("offset", &[1., 2., 3.]),
                floats("scale", &[1., 1., 1.]),
            ],
        ),
        node("Cast", "c", &["s"], &["c"], vec![int("to", 11)]),
        node("Abs", "", &["c"], &["a"], vec![]),
        node("Clip", "clip", &["a", "lo", ""], &["k"], vec![]),
        node(
            "Binarizer",
            "bin",
            &["k"],
            &["b"],
            vec![float("threshold", 0.5)],
        ),
        node("Identity", "id", &["b"], &["x"], vec![]),
    ];
    let (g, s) = matrix(
        &["a", "b", "c"],
        vec![init_f("lo", &[], &[0.])],
        nodes,
        &["x"],
    );
    assert_eq!(ok(&g, &s, "x"), vec![F(0), F(1), F(2)]);
}

#[test]
fn constants_broadcast_per_column_and_keep_the_feature() {
    let nodes = vec![
        node("Sub", "sub", &["features", "mean"], &["d"], vec![]),
        node("Div", "div", &["d", "two"], &["q"], vec![]),
        node("Pow", "pow", &["q", "two"], &["p"], vec![]),
        node("Mul", "mul", &["scale", "p"], &["x"], vec![]),
    ];
    let inits = vec![
        init_f("mean", &[1, 3], &[1., 2., 3.]),
        init_f("two", &[], &[2.]),
        init_raw_f64("scale", &[3], &[1., 2., 3.]),
    ];
    let (g, s) = matrix(&["a", "b", "c"], inits, nodes, &["x"]);
    assert_eq!(ok(&g, &s, "x"), vec![F(0), F(1), F(2)]);
}

#[test]
fn a_constant_that_broadcasts_over_rows_is_refused() {
    let nodes = vec![node("Add", "add", &["features", "rows"], &["x"], vec![])];
    let (g, s) = matrix(
        &["a", "b"],
        vec![init_f("rows", &[4, 2], &[0.; 8])],
        nodes,
        &["x"],
    );
    let r = refused(&g, &s, "x");
    assert_eq!((r.node.as_str(), r.op_type.as_str()), ("add", "Add"));
    assert!(r.to_string().contains("over the rows"), "{r}");
}

#[test]
fn adding_two_features_mixes_them_and_names_the_node() {
    let nodes = vec![
        node(
            "Gather",
            "g0",
            &["features", "i0"],
            &["a"],
            vec![int("axis", 1)],
        ),
        node(
            "Gather",
            "g1",
            &["features", "i1"],
            &["b"],
            vec![int("axis", 1)],
        ),
        node("Add", "plus", &["a", "b"], &["x"], vec![]),
    ];
    let (g, s) = matrix(
        &["age", "income"],
        vec![init_i("i0", &[1], &[0]), init_i("i1", &[1], &[1])],
        nodes,
        &["x"],
    );
    assert_eq!(ok(&g, &s, "a"), vec![F(0)]);
    assert_eq!(ok(&g, &s, "b"), vec![F(1)]);
    let r = refused(&g, &s, "x");
    assert_eq!(
        r.to_string(),
        "node `plus` (Add) mixes input features `age`, `income` into one column, so its \
         contributions cannot be given to one feature"
    );
}

#[test]
fn polynomial_features_mix_by_name() {
    let nodes = vec![
        node(
            "Slice",
            "s0",
            &["features", "z", "one", "one_axis"],
            &["a"],
            vec![],
        ),
        node(
            "Slice",
            "s1",
            &["features", "one", "two", "one_axis"],
            &["b"],
            vec![],
        ),
        node("Mul", "poly", &["a", "b"], &["ab"], vec![]),
        node("Mul", "square", &["a", "a"], &["aa"], vec![]),
        node(
            "Concat",
            "cat",
            &["features", "aa", "ab"],
            &["x"],
            vec![int("axis", 1)],
        ),
    ];
    let inits = vec![
        init_i("z", &[1], &[0]),
        init_i("one", &[1], &[1]),
        init_i("two", &[1], &[2]),
        init_i("one_axis", &[1], &[1]),
    ];
    let (g, s) = matrix(&["a", "b"], inits, nodes, &["x"]);
    // A feature times itself is still that feature.
    assert_eq!(ok(&g, &s, "aa"), vec![F(0)]);
    let r = refused(&g, &s, "x");
    assert_eq!((r.node.as_str(), r.op_type.as_str()), ("poly", "Mul"));
}

#[test]
fn one_hot_encoded_categories_come_from_their_feature() {
    // skl2onnx's ColumnTransformer: numeric columns imputed and scaled, a categorical
    // one one-hot encoded ([N, 1, 3] reshaped to [N, 3]), concatenated.
    let nodes = vec![
        node(
            "Concat",
            "num",
            &["age", "income"],
            &["n"],
            vec![int("axis", 1)],
        ),
        node(
            "Imputer",
            "imp",
            &["n"],
            &["ni"],
            vec![
                floats("imputed_value_floats", &[1., 2.]),
                float("replaced_value_float", f32::NAN),
            ],
        ),
        node(
            "OneHotEncoder",
            "ohe",
            &["color"],
            &["o"],
            vec![
                strings("cats_strings", &["blue", "green", "red"]),
                int("zeros", 1),
            ],
        ),
        node("Reshape", "rs", &["o", "shape"], &["or"], vec![]),
        node("Concat", "all", &["ni", "or"], &["x"], vec![int("axis", 1)]),
    ];
    let (g, s) = per_feature(
        &[
            ("age", DataType::Float),
            ("income", DataType::Float),
            ("color", DataType::String),
        ],
        vec![init_i("shape", &[2], &[-1, 3])],
        nodes,
        &["x"],
    );
    assert_eq!(ok(&g, &s, "o"), vec![F(2), F(2), F(2)]);
    assert_eq!(ok(&g, &s, "x"), vec![F(0), F(1), F(2), F(2), F(2)]);
}

#[test]
fn one_hot_of_several_columns_keeps_each_columns_feature() {
    let nodes = vec![
        node("Concat", "cat", &["a", "b"], &["ab"], vec![int("axis", 1)]),
        node(
            "OneHotEncoder",
            "ohe",
            &["ab"],
            &["o"],
            vec![ints("cats_int64s", &[1, 2])],
        ),
        node("Flatten", "fl", &["o"], &["x"], vec![]),
    ];
    let (g, s) = per_feature(
        &[("a", DataType::Int64), ("b", DataType::Int64)],
        vec![],
        nodes,
        &["x"],
    );
    assert_eq!(ok(&g, &s, "x"), vec![F(0), F(0), F(1), F(1)]);
}

#[test]
fn a_string_imputer_through_where_keeps_its_feature() {
    // skl2onnx's SimpleImputer on strings: Where(LabelEncoder(x) == missing, fill, x).
    let nodes = vec![
        node(
            "LabelEncoder",
            "fill",
            &["zero"],
            &["f"],
            vec![
                ints("keys_int64s", &[0]),
                strings("values_strings", &["red"]),
            ],
        ),
        node(
            "LabelEncoder",
            "is_missing",
            &["color"],
            &["m"],
            vec![strings("keys_strings", &[""]), ints("values_int64s", &[1])],
        ),
        node("Cast", "mb", &["m"], &["mbool"], vec![int("to", 9)]),
        node("Where", "w", &["mbool", "f", "color"], &["x"], vec![]),
    ];
    let (g, s) = per_feature(
        &[("size", DataType::Float), ("color", DataType::String)],
        vec![init_i("zero", &[1], &[0])],
        nodes,
        &["x"],
    );
    assert_eq!(ok(&g, &s, "f"), vec![C]);
    assert_eq!(ok(&g, &s, "x"), vec![F(1)]);
}

#[test]
fn feature_vectorizer_concatenates_by_its_widths() {
    let nodes = vec![
        node(
            "OneHotEncoder",
            "ohe",
            &["c"],
            &["o"],
            vec![strings("cats_strings", &["x", "y"])],
        ),
        node("Reshape", "rs", &["o", "shape"], &["or"], vec![]),
        node(
            "FeatureVectorizer",
            "fv",
            &["a", "or", "b"],
            &["x"],
            vec![ints("inputdimensions", &[1, 2, 1])],
        ),
    ];
    let (g, s) = per_feature(
        &[
            ("a", DataType::Float),
            ("b", DataType::Double),
            ("c", DataType::String),
        ],
        vec![init_i("shape", &[2], &[0, -1])],
        nodes,
        &["x"],
    );
    assert_eq!(ok(&g, &s, "x"), vec![F(0), F(2), F(2), F(1)]);
}

#[test]
fn feature_vectorizer_widths_must_match() {
    let nodes = vec![node(
        "FeatureVectorizer",
        "fv",
        &["a", "b"],
        &["x"],
        vec![ints("inputdimensions", &[1, 2])],
    )];
    let (g, s) = per_feature(
        &[("a", DataType::Float), ("b", DataType::Float)],
        vec![],
        nodes,
        &["x"],
    );
    assert!(refused(&g, &s, "x")
        .to_string()
        .contains("has 2 columns; it has 1"));
}

#[test]
fn concatenating_rows_is_refused() {
    let nodes = vec![node(
        "Concat",
        "rows",
        &["features", "features"],
        &["x"],
        vec![int("axis", 0)],
    )];
    let (g, s) = matrix(&["a"], vec![], nodes, &["x"]);
    let r = refused(&g, &s, "x");
    assert_eq!(r.node, "rows");
    assert!(r.reason.contains("batch axis"), "{r}");
}

#[test]
fn reshapes_that_move_values_between_rows_are_refused() {
    for (shape, ok_) in [
        (vec![-1, 2, 2], true),
        (vec![0, 4], true),
        (vec![0, -1], true),
        (vec![1, -1], false),
        (vec![-1, 2], false),
        (vec![0, 2, 0], false),
    ] {
        let nodes = vec![node(
            "Reshape",
            "rs",
            &["features", "shape"],
            &["x"],
            vec![],
        )];
        let (g, s) = matrix(
            &["a", "b", "c", "d"],
            vec![init_i("shape", &[shape.len() as i64], &shape)],
            nodes,
            &["x"],
        );
        assert_eq!(
            columns(&g, &s, "x").is_ok(),
            ok_,
            "{shape:?}: {:?}",
            columns(&g, &s, "x")
        );
    }
}

#[test]
fn a_shape_computed_at_run_time_is_refused_by_name() {
    let nodes = vec![
        node("Shape", "sh", &["features"], &["shape"], vec![]),
        node("Reshape", "rs", &["features", "shape"], &["x"], vec![]),
    ];
    let (g, s) = matrix(&["a", "b"], vec![], nodes, &["x"]);
    let r = refused(&g, &s, "x");
    assert_eq!((r.node.as_str(), r.op_type.as_str()), ("rs", "Reshape"));
    assert!(r.reason.contains("not an integer constant"), "{r}");
}

#[test]
fn squeeze_unsqueeze_flatten_transpose_keep_the_order() {
    let nodes = vec![
        node("Unsqueeze", "u", &["features", "ax1"], &["u"], vec![]),
        node(
            "Transpose",
            "t",
            &["u"],
            &["t"],
            vec![ints("perm", &[0, 2, 1])],
        ),
        node("Squeeze", "s", &["t"], &["s"], vec![ints("axes", &[-1])]),
        node("Reshape", "r", &["features", "shape"], &["r"], vec![]),
        node(
            "Transpose",
            "t2",
            &["r"],
            &["t2"],
            vec![ints("perm", &[0, 2, 1])],
        ),
        node("Flatten", "f", &["t2"], &["x"], vec![int("axis", 1)]),
        node("Transpose", "bad", &["r"], &["bad"], vec![]),
    ];
    let inits = vec![
        init_i("ax1", &[1], &[1]),
        init_i("shape", &[3], &[-1, 2, 2]),
    ];
    let (g, s) = matrix(&["a", "b", "c", "d"], inits, nodes, &["x"]);
    assert_eq!(ok(&g, &s, "u"), vec![F(0), F(1), F(2), F(3)]);
    assert_eq!(ok(&g, &s, "s"), vec![F(0), F(1), F(2), F(3)]);
    // [[a, b], [c, d]] transposed: a, c, b, d.
    assert_eq!(ok(&g, &s, "x"), vec![F(0), F(2), F(1), F(3)]);
    assert!(refused(&g, &s, "bad").reason.contains("batch axis"));
}

#[test]
fn selections_on_columns_with_constants() {
    let nodes = vec![
        node(
            "ArrayFeatureExtractor",
            "afe",
            &["features", "idx"],
            &["e"],
            vec![],
        ),
        node(
            "Gather",
            "g",
            &["features", "neg"],
            &["g"],
            vec![int("axis", -1)],
        ),
        node(
            "Slice",
            "sl",
            &["features", "starts", "ends", "axes", "steps"],
            &["sl"],
            vec![],
        ),
        node(
            "Slice",
            "sl1",
            &["features"],
            &["sl1"],
            vec![ints("starts", &[1]), ints("ends", &[3]), ints("axes", &[1])],
        ),
        node("Gather", "rows", &["features", "neg"], &["rows"], vec![]),
    ];
    let inits = vec![
        init_i("idx", &[2], &[2, 0]),
        init_i("neg", &[], &[-1]),
        init_i("starts", &[1], &[3]),
        init_i("ends", &[1], &[i64::MIN]),
        init_i("axes", &[1], &[1]),
        init_i("steps", &[1], &[-2]),
    ];
    let (g, s) = matrix(&["a", "b", "c", "d"], inits, nodes, &["x"]);
    assert_eq!(ok(&g, &s, "e"), vec![F(2), F(0)]);
    assert_eq!(ok(&g, &s, "g"), vec![F(3)]);
    assert_eq!(ok(&g, &s, "sl"), vec![F(3), F(1)]);
    assert_eq!(ok(&g, &s, "sl1"), vec![F(1), F(2)]);
    let r = refused(&g, &s, "rows");
    assert!(r.reason.contains("batch axis"), "{r}");
}

#[test]
fn split_parts_keep_their_columns() {
    let nodes = vec![
        node(
            "Split",
            "sizes",
            &["features", "sizes"],
            &["s0", "s1"],
            vec![int("axis", 1)],
        ),
        node(
            "Split",
            "halves",
            &["features"],
            &["h0", "h1"],
            vec![int("axis", -1)],
        ),
        node(
            "Split",
            "odd",
            &["features"],
            &["o0", "o1", "o2"],
            vec![int("axis", 1), int("num_outputs", 3)],
        ),
        node("Split", "rows", &["features"], &["r0", "r1"], vec![]),
    ];
    let (g, s) = matrix(
        &["a", "b", "c", "d"],
        vec![init_i("sizes", &[2], &[1, 3])],
        nodes,
        &["s0"],
    );
    assert_eq!(ok(&g, &s, "s0"), vec![F(0)]);
    assert_eq!(ok(&g, &s, "s1"), vec![F(1), F(2), F(3)]);
    assert_eq!(ok(&g, &s, "h1"), vec![F(2), F(3)]);
    // ceil(4 / 3) = 2 a part, the last one what is left (as the ONNX reference does).
    assert_eq!(ok(&g, &s, "o1"), vec![F(2), F(3)]);
    assert_eq!(ok(&g, &s, "o2"), vec![]);
    assert!(refused(&g, &s, "r1").reason.contains("batch axis"));
}

#[test]
fn expand_tile_and_one_hot_repeat_a_columns_feature() {
    // KBinsDiscretizer-like: a column compared with its bin edges, one-hot encoded.
    let nodes = vec![
        node(
            "Gather",
            "col",
            &["features", "one"],
            &["b"],
            vec![int("axis", 1)],
        ),
        node("Expand", "expand", &["b", "shape"], &["e"], vec![]),
        node("Tile", "tile", &["features", "reps"], &["t"], vec![]),
        node("Tile", "tile_rows", &["features", "rows"], &["tr"], vec![]),
        node("ArgMax", "bin", &["e"], &["k"], vec![int("axis", 1)]),
        node(
            "OneHot",
            "onehot",
            &["k", "depth", "values"],
            &["o"],
            vec![int("axis", 1)],
        ),
        node("Cycle", "loop_a", &["loop_b"], &["loop_a"], vec![]),
        node("Identity", "loop_b", &["loop_a"], &["loop_b"], vec![]),
    ];
    let inits = vec![
        init_i("one", &[1], &[1]),
        init_i("shape", &[2], &[1, 3]),
        init_i("reps", &[2], &[1, 2]),
        init_i("rows", &[2], &[2, 1]),
        init_i("depth", &[], &[4]),
        init_f("values", &[2], &[0., 1.]),
    ];
    let (g, s) = matrix(&["a", "b"], inits, nodes, &["o"]);
    assert_eq!(ok(&g, &s, "e"), vec![F(1), F(1), F(1)]);
    assert_eq!(ok(&g, &s, "t"), vec![F(0), F(1), F(0), F(1)]);
    assert!(refused(&g, &s, "tr").reason.contains("rows"));
    assert_eq!(ok(&g, &s, "o"), vec![F(1); 4]);
    assert_eq!(
        refused(&g, &s, "loop_a").reason,
        "is part of a cycle in the graph"
    );
}

#[test]
fn a_column_times_zero_is_a_constant() {
    // KBinsDiscretizer: each feature's bin edges compared, next to a column of ones
    // built from the first feature (x × 0 + 1), then ArgMax.
    let nodes = vec![
        node(
            "ArrayFeatureExtractor",
            "c0",
            &["features", "i0"],
            &["x0"],
            vec![],
        ),
        node(
            "ArrayFeatureExtractor",
            "c1",
            &["features", "i1"],
            &["x1"],
            vec![],
        ),
        node("Mul", "zero", &["x0", "zero_f"], &["z"], vec![]),
        node("Add", "ones", &["z", "one_f"], &["last"], vec![]),
        node("Less", "less", &["x1", "edges"], &["lt"], vec![]),
        node("Cast", "cast", &["lt"], &["ltf"], vec![int("to", 1)]),
        node(
            "Concat",
            "cat",
            &["ltf", "last"],
            &["both"],
            vec![int("axis", 1)],
        ),
        node("ArgMax", "bin", &["both"], &["x"], vec![int("axis", 1)]),
    ];
    let inits = vec![
        init_i("i0", &[], &[0]),
        init_i("i1", &[], &[1]),
        init_f("zero_f", &[1], &[0.]),
        init_f("one_f", &[1], &[1.]),
        init_f("edges", &[3], &[-1., 0., 1.]),
    ];
    let (g, s) = matrix(&["a", "b"], inits, nodes, &["x"]);
    assert_eq!(ok(&g, &s, "last"), vec![C]);
    assert_eq!(ok(&g, &s, "both"), vec![F(1), F(1), F(1), C]);
    assert_eq!(ok(&g, &s, "x"), vec![F(1)]);
}

#[test]
fn a_refusal_after_a_mix_names_the_mix() {
    // PolynomialFeatures: products of columns, then a bias column of a shape the graph
    // computes at run time.
    let nodes = vec![
        node(
            "ReduceProd",
            "prod",
            &["features"],
            &["p"],
            vec![ints("axes", &[1])],
        ),
        node("Shape", "shape", &["features"], &["sh"], vec![]),
        node("ConstantOfShape", "unit", &["sh"], &["u"], vec![]),
        node("Concat", "cat", &["u", "p"], &["x"], vec![int("axis", 1)]),
    ];
    let (g, s) = matrix(&["a", "b"], vec![], nodes, &["x"]);
    let r = refused(&g, &s, "x");
    assert_eq!(
        (r.node.as_str(), r.op_type.as_str()),
        ("prod", "ReduceProd")
    );
}

#[test]
fn pca_mixes_features_and_is_refused_by_name() {
    let nodes = vec![
        node("Sub", "center", &["features", "mean"], &["c"], vec![]),
        node("MatMul", "pca", &["c", "components"], &["x"], vec![]),
    ];
    let inits = vec![
        init_f("mean", &[3], &[1., 2., 3.]),
        init_f("components", &[3, 2], &[0.5, 0.1, 0.5, 0.2, 0.0, 0.3]),
    ];
    let (g, s) = matrix(&["a", "b", "c"], inits, nodes, &["x"]);
    let r = refused(&g, &s, "x");
    assert!(
        r.to_string()
            .starts_with("node `pca` (MatMul) mixes input features `a`, `b` into one column"),
        "{r}"
    );
}

#[test]
fn a_matrix_with_one_weight_per_column_does_not_mix() {
    let nodes = vec![
        node("MatMul", "select", &["features", "w"], &["x"], vec![]),
        node(
            "Gemm",
            "gemm",
            &["features", "wt", "bias"],
            &["y"],
            vec![int("transB", 1)],
        ),
    ];
    let inits = vec![
        init_f("w", &[3, 2], &[0., 2., 0., 0., 3., 0.]),
        init_f("wt", &[2, 3], &[0., 0., 3., 2., 0., 0.]),
        init_f("bias", &[2], &[1., 1.]),
    ];
    let (g, s) = matrix(&["a", "b", "c"], inits, nodes, &["x", "y"]);
    assert_eq!(ok(&g, &s, "x"), vec![F(2), F(0)]);
    assert_eq!(ok(&g, &s, "y"), vec![F(2), F(0)]);
}

#[test]
fn row_operators_mix_every_column() {
    for (op, attrs) in [
        ("Normalizer", vec![string("norm", "L2")]),
        ("Softmax", vec![]),
        ("LinearRegressor", vec![floats("coefficients", &[1., 1.])]),
    ] {
        let nodes = vec![node(op, "rowwise", &["features"], &["x"], attrs)];
        let (g, s) = matrix(&["a", "b"], vec![], nodes, &["x"]);
        let r = refused(&g, &s, "x");
        assert_eq!(r.op_type, op);
        assert!(r.reason.starts_with("mixes input features `a`, `b`"), "{r}");
    }
    // Of one feature alone, the row is still that feature.
    let nodes = vec![
        node(
            "Normalizer",
            "n",
            &["features"],
            &["x"],
            vec![string("norm", "MAX")],
        ),
        tree("t", "features", "y", vec![]),
    ];
    let (g, s) = matrix(&["a"], vec![], nodes, &["x", "y"]);
    assert_eq!(ok(&g, &s, "x"), vec![F(0)]);
    assert_eq!(ok(&g, &s, "y"), vec![F(0)]);
}

#[test]
fn reductions_mix_along_their_axes_and_never_over_rows() {
    let nodes = vec![
        node("Reshape", "r", &["features", "shape"], &["r"], vec![]),
        node(
            "ReduceSum",
            "sum_rows",
            &["r", "ax2"],
            &["x"],
            vec![int("keepdims", 0)],
        ),
        node("ReduceMax", "max_all", &["r"], &["y"], vec![]),
        node(
            "ReduceMean",
            "mean_cols",
            &["features"],
            &["z"],
            vec![ints("axes", &[1])],
        ),
        node(
            "ArgMax",
            "argmax",
            &["features"],
            &["w"],
            vec![int("axis", 1)],
        ),
    ];
    let inits = vec![
        init_i("shape", &[3], &[-1, 2, 2]),
        init_i("ax2", &[1], &[1]),
    ];
    let (g, s) = matrix(&["a", "b", "c", "d"], inits, nodes, &["x"]);
    // [[a, b], [c, d]] summed over axis 1: a+c, b+d.
    let r = refused(&g, &s, "x");
    assert!(r.reason.contains("`a`, `c`"), "{r}");
    assert!(refused(&g, &s, "y").reason.contains("batch axis"));
    assert_eq!(refused(&g, &s, "z").node, "mean_cols");
    assert_eq!(refused(&g, &s, "w").node, "argmax");
}

#[test]
fn unknown_operators_are_refused_by_name() {
    let nodes = vec![
        node("StringNormalizer", "norm", &["features"], &["x"], vec![]),
        NodeProto {
            domain: "com.example".into(),
            ..node("Abs", "custom", &["features"], &["y"], vec![])
        },
    ];
    let (g, s) = matrix(&["a"], vec![], nodes, &["x"]);
    let r = refused(&g, &s, "x");
    assert_eq!(
        (r.node.as_str(), r.op_type.as_str()),
        ("norm", "StringNormalizer")
    );
    assert!(r.reason.contains("does not know"), "{r}");
    assert!(refused(&g, &s, "y").reason.contains("com.example"));
}

#[test]
fn what_is_not_in_the_graph_is_refused() {
    let (g, s) = matrix(&["a"], vec![], vec![], &["features"]);
    assert_eq!(
        refused(&g, &s, "nowhere").to_string(),
        "tensor `nowhere` is neither a graph input, an initializer nor any node's output"
    );
    let mut g2 = g.clone();
    g2.input.push(value("stray", DataType::Float, &[1]));
    assert!(refused(&g2, &s, "stray")
        .reason
        .contains("outside the feature schema"));
}
