//! `columns` on constants, unnamed nodes and the committed fixture models, and the
//! re-layout rules.

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
fn constants_are_constant_columns() {
    let nodes = vec![
        node(
            "Constant",
            "k",
            &[],
            &["k"],
            vec![floats("value_floats", &[1., 2.])],
        ),
        node("Unsqueeze", "u", &["k"], &["ku"], vec![ints("axes", &[0])]),
        node(
            "Concat",
            "cat",
            &["features", "features"],
            &["x"],
            vec![int("axis", 1)],
        ),
        node("Add", "add", &["x", "ku"], &["y"], vec![]),
    ];
    let (g, s) = matrix(&["a"], vec![], nodes, &["y"]);
    assert_eq!(ok(&g, &s, "y"), vec![F(0), F(0)]);
    // A constant [1, 2] read as rows: two constant columns.
    assert_eq!(ok(&g, &s, "ku"), vec![C, C]);
}

#[test]
fn an_unnamed_node_is_named_by_its_output() {
    let nodes = vec![
        node("Hardmax", "", &["features"], &["soft"], vec![]),
        node("Einsum", "", &["soft"], &["x"], vec![]),
    ];
    let (g, s) = matrix(&["a", "b"], vec![], nodes, &["x"]);
    // The mix comes first: an explanation could not get past it anyway.
    assert_eq!(
        refused(&g, &s, "x").to_string().split(" (").next(),
        Some("node `soft`")
    );
    let (g, s) = matrix(&["a"], vec![], g.node.clone(), &["x"]);
    assert_eq!(
        refused(&g, &s, "x").to_string().split(" (").next(),
        Some("node `x`")
    );
}

#[test]
fn committed_fixtures_trace_their_tree_and_linear_inputs_or_refuse_by_name() {
    let refusals = [
        (
            "typed/binarizer_normalizer.onnx",
            "node `Normalizer` (Normalizer) mixes input features `f00_alpha`",
        ),
        (
            "typed/string_normalizer.onnx",
            "node `city_lc` (StringNormalizer) is an operator the lineage does not know",
        ),
        (
            "explain/refuse_pca_trees.onnx",
            "node `MatMul` (MatMul) mixes input features `age`, `income`",
        ),
    ];
    let (mut traced, mut refused_) = (0, 0);
    for (name, g, s) in fixtures() {
        let Some(s) = s else { continue };
        let ops = g
            .node
            .iter()
            .filter(|n| n.op_type.starts_with("TreeEnsemble") || n.op_type.starts_with("Linear"));
        for n in ops {
            let got = columns(&g, &s, &n.input[0]);
            let declared = name
                .starts_with("explain/")
                .then(|| expected_refusal(&name))
                .flatten();
            match (refusals.iter().find(|(f, _)| *f == name), got) {
                (Some((_, want)), Err(e)) => {
                    assert!(e.to_string().starts_with(want), "{name}: {e}");
                    refused_ += 1;
                }
                // An explanation fixture refused for its own reason (no covers, say) may
                // trace; refused here, it must be for the reason it declares.
                (None, Err(e)) if declared.is_some() => {
                    let want = declared.unwrap();
                    assert!(e.to_string().contains(&want), "{name}: {e} lacks {want}");
                }
                (None, Ok(_)) if declared.is_some() => {}
                (None, Ok(cols)) => {
                    // Every column from a feature, every feature read.
                    let features: BTreeSet<usize> = cols
                        .iter()
                        .map(|c| match c {
                            F(f) => *f,
                            C => panic!("{name}: a constant column"),
                        })
                        .collect();
                    assert_eq!(features, (0..s.len()).collect(), "{name}: {cols:?}");
                    traced += 1;
                }
                (_, got) => panic!("{name} `{}`: {got:?}", n.name),
            }
        }
    }
    assert_eq!(refused_, refusals.len());
    assert!(traced >= 80, "only {traced} traced");
}

#[test]
fn column_transformer_fixtures_sum_one_hot_and_imputed_columns_back() {
    let by_name: HashMap<String, (GraphProto, Option<FeatureSchema>)> = fixtures()
        .into_iter()
        .map(|(n, g, s)| (n, (g, s)))
        .collect();
    let x = |name: &str, op: &str| {
        let (g, s) = &by_name[name];
        let n = g.node.iter().find(|n| n.op_type == op).unwrap();
        ok(g, s.as_ref().unwrap(), &n.input[0])
    };
    // age, income, tenure_years, balance imputed and scaled; color (4) and region (5) one-hot.
    let ct = [
        F(0),
        F(1),
        F(2),
        F(3),
        F(4),
        F(4),
        F(4),
        F(4),
        F(5),
        F(5),
        F(5),
        F(5),
        F(5),
    ];
    assert_eq!(x("typed/ct_regressor.onnx", "TreeEnsembleRegressor"), ct);
    assert_eq!(x("typed/ct_gbc.onnx", "TreeEnsembleClassifier"), ct);
    // n_children (feature 6, an int64 input) scaled on its own, between them.
    let mut int64 = ct.to_vec();
    int64.insert(4, F(6));
    assert_eq!(x("typed/int64_input.onnx", "LinearRegressor"), int64);
    assert_eq!(
        x("ops/pipeline_logreg_strings.onnx", "LinearClassifier"),
        [F(0), F(1), F(2), F(2), F(2)]
    );
    assert_eq!(
        x("explain/column_transformer.onnx", "TreeEnsembleRegressor"),
        [F(0), F(1), F(2), F(3), F(4), F(4), F(4)]
    );
}

#[test]
fn layout_rules() {
    let l = Laid::new(vec![2, 3], (0..6).collect::<Vec<_>>());
    assert_eq!(
        l.clone().gather(2, &[2, 0], &[2]).unwrap().cells,
        vec![2, 0, 5, 3]
    );
    assert_eq!(
        l.clone().gather(1, &[1], &[]).unwrap(),
        Laid::new(vec![3], vec![3, 4, 5])
    );
    assert_eq!(
        l.clone().transpose(Some(&[0, 2, 1])).unwrap().cells,
        vec![0, 3, 1, 4, 2, 5]
    );
    assert_eq!(
        l.clone()
            .slice(&[-1], &[-4], Some(&[2]), Some(&[-1]))
            .unwrap()
            .cells,
        vec![2, 1, 0, 5, 4, 3]
    );
    assert_eq!(l.clone().squeeze(None).unwrap().dims, vec![2, 3]);
    assert!(l.clone().squeeze(Some(&[1])).is_err());
    assert_eq!(
        l.clone().unsqueeze(&[1, -1]).unwrap().dims,
        vec![1, 2, 3, 1]
    );
    assert!(l.clone().flatten(2).is_err());
    assert!(l.clone().flatten(0).is_err());
    let c = Laid::concat(vec![l.clone(), Laid::new(vec![2, 1], vec![9, 8])], -1).unwrap();
    assert_eq!(c.cells, vec![0, 1, 2, 9, 3, 4, 5, 8]);
    let (dims, maps) = broadcast(&[Operand::Var(&[2, 1]), Operand::Const(&[3])]).unwrap();
    assert_eq!(dims, vec![2, 3]);
    assert_eq!(maps, vec![vec![0, 0, 0, 1, 1, 1], vec![0, 1, 2, 0, 1, 2]]);
    assert!(broadcast(&[Operand::Var(&[2]), Operand::Var(&[])]).is_err());
    let (dims, groups) = reduce(&[2, 3], &BTreeSet::from([1]), false);
    assert_eq!(
        (dims, groups),
        (vec![2], vec![vec![0, 1, 2], vec![3, 4, 5]])
    );
}
