//! The one reader of the ONNX-ML tree ensembles: `TreeEnsembleRegressor` and
//! `TreeEnsembleClassifier` (ai.onnx.ml opsets 1 and 3) and `TreeEnsemble` (opset 5), into
//! a [`TreeSpec`]. The ops build their [`crate::forest::Forest`] from it; explanations
//! read the same spec (with node covers from the model card), so the trees explained are
//! the trees scored.
//!
//! Node order is the model card's cover order: for opsets 1 and 3, one node per entry of
//! `nodes_nodeids`, same index (leaves included); for opset 5, the interior nodes in
//! `nodes_*` order, then one leaf node per entry of `leaf_*`, whose `node_id` is
//! `nodes_featureids.len() + leaf index` (interior nodes keep their `nodes_*` index as
//! their `node_id`, and each tree's id is its index in `tree_roots`).

use std::collections::HashMap;

use super::positions::Positions;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::tree_attrs::Attrs;
use crate::forest::{Aggregate, Forest, LeafWeight, Mode, NodeSpec};

pub(crate) use super::labels::ClassLabels;
pub(crate) use super::transform::PostTransform;
pub(crate) use super::tree_classes::{ClassColumn, ClassFinish};

/// A tree ensemble as its ONNX node describes it, validated enough to build a forest.
#[derive(Clone, Debug)]
pub(crate) struct TreeSpec {
    /// In the card's cover order (see the module doc).
    pub nodes: Vec<NodeSpec>,
    /// Leaf weights, by (`tree_id`, `node_id`) of `nodes`. For a classifier the target is
    /// the class index; weights onnxruntime ignores (on branch nodes) are left out.
    pub leaves: Vec<LeafWeight>,
    /// The forest's targets: a regressor's `n_targets`, a classifier's number of classes.
    pub n_targets: usize,
    pub aggregate: Aggregate,
    /// Added per target by the forest (empty: zeros). Always empty for a classifier: its
    /// base values are in [`ClassifierSpec::finish`] and [`ClassifierSpec::columns`].
    pub base_values: Vec<f64>,
    /// The link applied to the scores the forest (regressor) or `columns` (classifier)
    /// produce, as onnxruntime applies it: for two classes with one score column,
    /// onnxruntime skips every transform but LOGISTIC, so this is then NONE whatever the
    /// attribute says.
    pub post_transform: PostTransform,
    pub kind: TreeKind,
}

#[derive(Clone, Debug)]
pub(crate) enum TreeKind {
    /// `[N, n_targets]` scores: the forest's output, then `post_transform`.
    Regressor,
    Classifier(ClassifierSpec),
}

/// What a `TreeEnsembleClassifier` adds to its forest (one target per class).
#[derive(Clone, Debug)]
pub(crate) struct ClassifierSpec {
    pub labels: ClassLabels,
    /// onnxruntime's finishing of the per-class sums, as the op runs it.
    pub finish: ClassFinish,
    /// Whether each class gets a score for every row, none, or only some.
    pub presence: Vec<Presence>,
    /// Class column `k`'s score before `post_transform`, as an affine function of the
    /// forest's targets: `columns[k].offset + columns[k].sign * target[columns[k].target]`
    /// (`target: None`: the constant `offset`). Multiclass: class k is target k plus its
    /// base value. Two classes with weights on one class only (the binary one-score case
    /// of every converter): class 1 is `+target` and class 0 is `-target` (a margin, or a
    /// probability under LOGISTIC) or `1 - target` (a probability, NONE), so the single
    /// score is reported under the positive class.
    #[allow(dead_code)] // read by explanations, not by the op
    pub columns: Vec<ClassColumn>,
    /// Some class has a score on some rows only (`Presence::Depends`): onnxruntime then
    /// finishes those rows differently and `columns` holds only for rows where every
    /// such class has a score.
    #[allow(dead_code)] // read by explanations, not by the op
    pub row_dependent: bool,
}

/// Whether rows get a score for a class: the same for every row, or row-dependent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Presence {
    Always,
    Never,
    Depends,
}

impl TreeSpec {
    /// The forest that scores this ensemble: a regressor's scores before
    /// `post_transform`, a classifier's per-class sums.
    pub(crate) fn forest(&self) -> TractResult<Forest> {
        Ok(Forest::new(
            &self.nodes,
            &self.leaves,
            self.n_targets,
            self.aggregate,
            &self.base_values,
        )?)
    }
}

/// Reads any of the three tree-ensemble ops (errors name the op and node).
pub(crate) fn read_tree_spec(ctx: &ParsingContext, node: &NodeProto) -> TractResult<TreeSpec> {
    read_tree_spec_from(ctx, Attrs::of(node))
}

/// As [`read_tree_spec`], from a node whose lists may have been taken out.
pub(crate) fn read_tree_spec_from(ctx: &ParsingContext, a: Attrs) -> TractResult<TreeSpec> {
    let node = a.node;
    let spec = match node.op_type.as_str() {
        "TreeEnsembleRegressor" => read_regressor(ctx, a),
        "TreeEnsembleClassifier" => read_classifier(ctx, a),
        "TreeEnsemble" => read_v5(ctx, a),
        other => bail!("{other} is not a tree ensemble"),
    };
    spec.with_context(|| format!("{} {}", node.op_type, node.name))
}

const CLASSIFIER: &str = "TreeEnsembleClassifier";

fn read_regressor(ctx: &ParsingContext, a: Attrs) -> TractResult<TreeSpec> {
    let node = a.node;
    let n_targets: i64 = node.get_attr_opt("n_targets")?.unwrap_or(1);
    ensure!(
        n_targets >= 1,
        "n_targets must be at least 1, got {n_targets}"
    );
    let aggregate_name: &str = node.get_attr_opt("aggregate_function")?.unwrap_or("SUM");
    let aggregate = Aggregate::parse(aggregate_name)
        .with_context(|| format!("unknown aggregate_function {aggregate_name:?}"))?;
    let post_transform: &str = node.get_attr_opt("post_transform")?.unwrap_or("NONE");
    ensure!(
        post_transform == "NONE",
        "post_transform {post_transform:?} is not supported for a regression score (only NONE)"
    );

    let nodes = read_nodes(ctx, a)?;

    let leaf_trees: Vec<i64> = a.list("target_treeids")?.unwrap_or_default();
    let m = leaf_trees.len();
    let leaf_nodes = ints(a, "target_nodeids", m)?;
    let targets = ints(a, "target_ids", m)?;
    let weights = doubles(ctx, a, "target_weights", m)?.unwrap_or_else(|| vec![0.0; m]);
    let mut leaves = Vec::with_capacity(m);
    for i in 0..m {
        ensure!(targets[i] >= 0, "negative target id {}", targets[i]);
        leaves.push(LeafWeight {
            tree_id: leaf_trees[i],
            node_id: leaf_nodes[i],
            target: targets[i] as usize,
            weight: weights[i],
        });
    }

    let base_values = doubles(ctx, a, "base_values", n_targets as usize)
        .or_else(|_| doubles(ctx, a, "base_values", 1).map(|v| v.map(|b| vec![b[0]; 1])))?
        .unwrap_or_default();
    Ok(TreeSpec {
        nodes,
        leaves,
        n_targets: n_targets as usize,
        aggregate,
        base_values,
        post_transform: PostTransform::None,
        kind: TreeKind::Regressor,
    })
}

fn read_classifier(ctx: &ParsingContext, a: Attrs) -> TractResult<TreeSpec> {
    let node = a.node;
    let labels = ClassLabels::read(node, CLASSIFIER, "classlabels_int64s")?;
    let n = labels.len();
    ensure!(
        n >= 2,
        "{CLASSIFIER}: needs at least two class labels, got {n}"
    );
    let transform = PostTransform::read(node, CLASSIFIER)?;
    ensure!(
        !(n == 2 && transform == PostTransform::Probit),
        "{CLASSIFIER}: post_transform PROBIT with two classes is not supported \
         (onnxruntime writes only one of the two score columns)"
    );

    let nodes = read_nodes(ctx, a)?;
    let positions = Positions::new(&nodes);

    let trees: Vec<i64> = a.list("class_treeids")?.unwrap_or_default();
    let m = trees.len();
    let node_ids = ints(a, "class_nodeids", m)?;
    let class_ids = ints(a, "class_ids", m)?;
    let weights = doubles(ctx, a, "class_weights", m)?.unwrap_or_else(|| vec![0.0; m]);
    let weights_all_positive = weights.iter().all(|&w| (w as f32) >= 0.0);
    // Every weight for one and the same class.
    let one_class = class_ids
        .first()
        .is_some_and(|&c| class_ids.iter().all(|&x| x == c));
    let mut leaves = Vec::with_capacity(m);
    for i in 0..m {
        let id = class_ids[i];
        ensure!(
            (0..n as i64).contains(&id),
            "{CLASSIFIER}: class_ids names class {id}, but there are {n} class labels"
        );
        // onnxruntime ignores weights on branch nodes (old onnxmltools wrote some).
        if positions
            .get(trees[i], node_ids[i])
            .is_some_and(|p| nodes[p].mode.is_some())
        {
            continue;
        }
        leaves.push(LeafWeight {
            tree_id: trees[i],
            node_id: node_ids[i],
            target: id as usize,
            weight: weights[i],
        });
    }

    let base_values: Vec<f32> = doubles_any(ctx, a, "base_values")?
        .unwrap_or_default()
        .into_iter()
        .map(|v| v as f32)
        .collect();
    // onnxruntime's own limits: up to 2 values for two classes, else none or one each.
    let k = base_values.len();
    ensure!(
        (n == 2 && k <= 2) || k == 0 || k == n,
        "{CLASSIFIER}: base_values has {k} values for {n} classes"
    );
    let finish = ClassFinish {
        n_classes: n,
        base_values,
        binary_case: n == 2 && one_class,
        weights_all_positive,
        transform,
    };

    let presence = presence(&nodes, &leaves, n, &positions);
    drop(positions);
    ensure!(
        !(n == 2
            && !finish.binary_case
            && finish.base_values.len() == 1
            && presence[1] != Presence::Always),
        "{CLASSIFIER}: two classes, one base value and class-1 weights on only some leaves: \
         onnxruntime leaves the second score column unset for some rows"
    );
    let has: Vec<bool> = presence.iter().map(|&p| p != Presence::Never).collect();
    let (columns, post_transform) = finish.columns(&has);
    Ok(TreeSpec {
        nodes,
        leaves,
        n_targets: n,
        aggregate: Aggregate::Sum,
        base_values: vec![],
        post_transform,
        kind: TreeKind::Classifier(ClassifierSpec {
            labels,
            finish,
            row_dependent: presence.contains(&Presence::Depends),
            presence,
            columns,
        }),
    })
}

/// A class always has a score if some tree carries a weight for it on every leaf.
fn presence(
    nodes: &[NodeSpec],
    leaves: &[LeafWeight],
    n: usize,
    positions: &Positions,
) -> Vec<Presence> {
    let mut tree_leaves: HashMap<i64, usize> = HashMap::new();
    for s in nodes.iter().filter(|s| s.mode.is_none()) {
        *tree_leaves.entry(s.tree_id).or_default() += 1;
    }
    // The weights class by class (a counting sort of their indices).
    let mut ends = vec![0usize; n + 1];
    for l in leaves {
        ends[l.target + 1] += 1;
    }
    let mut total = 0;
    for end in &mut ends {
        total += *end;
        *end = total;
    }
    let mut next = ends.clone();
    let mut by_class = vec![0u32; leaves.len()];
    for (i, l) in leaves.iter().enumerate() {
        by_class[next[l.target]] = i as u32;
        next[l.target] += 1;
    }
    // Each class's distinct weighted leaves per tree, a leaf weighted twice counted once.
    let mut seen = vec![false; nodes.len()];
    (0..n)
        .map(|k| {
            let weights = &by_class[ends[k]..ends[k + 1]];
            let mut per_tree: HashMap<i64, usize> = HashMap::new();
            // Counted in runs of one tree: weights come tree by tree.
            let mut run: Option<(i64, usize)> = None;
            for &i in weights {
                let l = &leaves[i as usize];
                let Some(p) = positions.get(l.tree_id, l.node_id) else {
                    continue;
                };
                if std::mem::replace(&mut seen[p], true) {
                    continue;
                }
                match &mut run {
                    Some((tree, count)) if *tree == l.tree_id => *count += 1,
                    _ => {
                        if let Some((tree, count)) = run.replace((l.tree_id, 1)) {
                            *per_tree.entry(tree).or_default() += count;
                        }
                    }
                }
            }
            if let Some((tree, count)) = run {
                *per_tree.entry(tree).or_default() += count;
            }
            for &i in weights {
                let l = &leaves[i as usize];
                if let Some(p) = positions.get(l.tree_id, l.node_id) {
                    seen[p] = false;
                }
            }
            if weights.is_empty() {
                Presence::Never
            } else if per_tree
                .iter()
                .any(|(t, &k)| tree_leaves.get(t) == Some(&k))
            {
                Presence::Always
            } else {
                Presence::Depends
            }
        })
        .collect()
}

/// The `nodes_*` attributes of opsets 1 and 3, in `nodes_nodeids` order.
fn read_nodes(ctx: &ParsingContext, a: Attrs) -> TractResult<Vec<NodeSpec>> {
    // One list at a time, each dropped once copied into the nodes: a large forest's
    // lists together would cost more than the nodes.
    let tree_ids: Vec<i64> = a.required("nodes_treeids")?;
    let n = tree_ids.len();
    let mut nodes: Vec<NodeSpec> = tree_ids
        .into_iter()
        .map(|tree_id| NodeSpec {
            tree_id,
            node_id: 0,
            mode: None,
            feature: 0,
            threshold: 0.0,
            true_id: 0,
            false_id: 0,
            missing_tracks_true: false,
            members: vec![],
        })
        .collect();
    let mut i = 0;
    let found = a.each_string("nodes_modes", |s| {
        let s = std::str::from_utf8(s).context("nodes_modes holds a string that is not UTF-8")?;
        let mode = Mode::parse(s).with_context(|| format!("unknown node mode {s:?}"))?;
        if let Some(node) = nodes.get_mut(i) {
            node.mode = mode;
        }
        i += 1;
        Ok(())
    })?;
    ensure!(
        found,
        "Node {} ({}): expected attribute 'nodes_modes'",
        a.node.name,
        a.node.op_type
    );
    ensure!(i == n, "nodes_modes has {i} values for {n} nodes");
    for (s, id) in nodes.iter_mut().zip(ints(a, "nodes_nodeids", n)?) {
        s.node_id = id;
    }
    for (s, feature) in nodes.iter_mut().zip(ints(a, "nodes_featureids", n)?) {
        ensure!(feature >= 0, "negative feature id {feature}");
        s.feature = feature as usize;
    }
    for (s, id) in nodes.iter_mut().zip(ints(a, "nodes_truenodeids", n)?) {
        s.true_id = id;
    }
    for (s, id) in nodes.iter_mut().zip(ints(a, "nodes_falsenodeids", n)?) {
        s.false_id = id;
    }
    if let Some(thresholds) = doubles(ctx, a, "nodes_values", n)? {
        for (s, t) in nodes.iter_mut().zip(thresholds) {
            s.threshold = t;
        }
    }
    for (s, m) in nodes.iter_mut().zip(missing_tracks_true(a, n)?) {
        s.missing_tracks_true = m;
    }
    Ok(nodes)
}

fn missing_tracks_true(a: Attrs, n: usize) -> TractResult<Vec<bool>> {
    Ok(match a.list::<i64>("nodes_missing_value_tracks_true")? {
        Some(v) => {
            ensure!(
                v.len() == n,
                "nodes_missing_value_tracks_true has {} values for {n} nodes",
                v.len()
            );
            v.into_iter().map(|b| b != 0).collect()
        }
        None => vec![false; n],
    })
}

/// ai.onnx.ml opset 5's `TreeEnsemble`: interior nodes and leaves in separate lists,
/// children as positions in them, trees given by their roots, modes as a uint8 tensor
/// with BRANCH_MEMBER, no base values, one (target, weight) per leaf.
fn read_v5(ctx: &ParsingContext, a: Attrs) -> TractResult<TreeSpec> {
    let node = a.node;
    known_attributes(
        a,
        &[
            "aggregate_function",
            "leaf_targetids",
            "leaf_weights",
            "membership_values",
            "n_targets",
            "nodes_falseleafs",
            "nodes_falsenodeids",
            "nodes_featureids",
            // Popularity only, "used for performance": ignored, as onnxruntime does.
            "nodes_hitrates",
            "nodes_missing_value_tracks_true",
            "nodes_modes",
            "nodes_splits",
            "nodes_trueleafs",
            "nodes_truenodeids",
            "post_transform",
            "tree_roots",
        ],
    )?;
    let n_targets: i64 = node
        .get_attr_opt("n_targets")?
        .context("n_targets is required")?;
    ensure!(
        n_targets >= 1,
        "n_targets must be at least 1, got {n_targets}"
    );
    let aggregate = match node.get_attr_opt::<i64>("aggregate_function")?.unwrap_or(1) {
        0 => Aggregate::Average,
        1 => Aggregate::Sum,
        2 => Aggregate::Min,
        3 => Aggregate::Max,
        v => bail!("unknown aggregate_function {v}"),
    };
    let post_transform = v5_post_transform(node, n_targets)?;

    let features: Vec<i64> = a.required("nodes_featureids")?;
    let n = features.len();
    let splits = tensor_values(ctx, a, "nodes_splits")?.context("nodes_splits is required")?;
    ensure!(
        splits.len() == n,
        "nodes_splits has {} values for {n} nodes",
        splits.len()
    );
    let modes = tensor_values(ctx, a, "nodes_modes")?.context("nodes_modes is required")?;
    ensure!(
        modes.len() == n,
        "nodes_modes has {} values for {n} nodes",
        modes.len()
    );
    let true_ids = ints(a, "nodes_truenodeids", n)?;
    let false_ids = ints(a, "nodes_falsenodeids", n)?;
    let true_leafs = ints(a, "nodes_trueleafs", n)?;
    let false_leafs = ints(a, "nodes_falseleafs", n)?;
    let missing_true = missing_tracks_true(a, n)?;
    let roots: Vec<i64> = a.required("tree_roots")?;
    let targets: Vec<i64> = a.required("leaf_targetids")?;
    let m = targets.len();
    let weights = tensor_values(ctx, a, "leaf_weights")?.context("leaf_weights is required")?;
    ensure!(
        weights.len() == m,
        "leaf_weights has {} values for {m} leaves",
        weights.len()
    );
    ensure!(!roots.is_empty(), "tree_roots is empty");

    let modes: Vec<Mode> = modes
        .iter()
        .map(|&v| {
            Ok(match (v == v.trunc()).then_some(v as i64) {
                Some(0) => Mode::Leq,
                Some(1) => Mode::Lt,
                Some(2) => Mode::Gte,
                Some(3) => Mode::Gt,
                Some(4) => Mode::Eq,
                Some(5) => Mode::Neq,
                Some(6) => Mode::Member,
                _ => bail!("unknown node mode {v}"),
            })
        })
        .collect::<TractResult<_>>()?;
    let mut sets =
        member_sets(ctx, a, modes.iter().filter(|&&m| m == Mode::Member).count())?.into_iter();

    // Each interior node's and leaf's tree: the root that reaches it, checked to be one.
    let child = |i: usize, leaf: i64, id: i64| -> TractResult<usize> {
        let (kind, len) = if leaf != 0 { ("leaf", m) } else { ("node", n) };
        ensure!(
            (0..len as i64).contains(&id),
            "node {i} points to {kind} {id}, but there are {len}"
        );
        Ok(if leaf != 0 {
            n + id as usize
        } else {
            id as usize
        })
    };
    let mut tree_of: Vec<Option<usize>> = vec![None; n + m];
    for (t, &root) in roots.iter().enumerate() {
        ensure!(
            (0..n as i64).contains(&root),
            "tree_roots names node {root}, but there are {n} nodes"
        );
        let mut todo = vec![root as usize];
        while let Some(k) = todo.pop() {
            if let Some(other) = tree_of[k] {
                bail!(
                    "{} is reached twice (trees {other} and {t}): the trees are not trees",
                    describe(k, n)
                );
            }
            tree_of[k] = Some(t);
            if k < n {
                let yes = child(k, true_leafs[k], true_ids[k])?;
                let no = child(k, false_leafs[k], false_ids[k])?;
                todo.push(yes);
                // Both branches on one leaf: a one-leaf tree (or a split that changes
                // nothing), as the spec writes it.
                if no != yes {
                    todo.push(no);
                }
            }
        }
    }
    if let Some(k) = tree_of.iter().position(Option::is_none) {
        bail!("{} is reached from no tree root", describe(k, n));
    }

    let mut nodes = Vec::with_capacity(n + m);
    for i in 0..n {
        ensure!(features[i] >= 0, "negative feature id {}", features[i]);
        let members = if modes[i] == Mode::Member {
            sets.next().unwrap_or_default()
        } else {
            vec![]
        };
        nodes.push(NodeSpec {
            tree_id: tree_of[i].unwrap() as i64,
            node_id: i as i64,
            mode: Some(modes[i]),
            feature: features[i] as usize,
            threshold: if modes[i] == Mode::Member {
                0.0
            } else {
                splits[i]
            },
            true_id: child(i, true_leafs[i], true_ids[i])? as i64,
            false_id: child(i, false_leafs[i], false_ids[i])? as i64,
            missing_tracks_true: missing_true[i],
            members,
        });
    }
    let mut leaves = Vec::with_capacity(m);
    for j in 0..m {
        let tree_id = tree_of[n + j].unwrap() as i64;
        let node_id = (n + j) as i64;
        ensure!(
            (0..n_targets).contains(&targets[j]),
            "leaf {j} names target {}, but n_targets is {n_targets}",
            targets[j]
        );
        nodes.push(NodeSpec {
            tree_id,
            node_id,
            mode: None,
            feature: 0,
            threshold: 0.0,
            true_id: 0,
            false_id: 0,
            missing_tracks_true: false,
            members: vec![],
        });
        leaves.push(LeafWeight {
            tree_id,
            node_id,
            target: targets[j] as usize,
            weight: weights[j],
        });
    }
    Ok(TreeSpec {
        nodes,
        leaves,
        n_targets: n_targets as usize,
        aggregate,
        base_values: vec![],
        post_transform,
        kind: TreeKind::Regressor,
    })
}

/// Refuses any attribute outside `known`, as [`super::parsing::known_attributes`] does.
fn known_attributes(a: Attrs, known: &[&str]) -> TractResult<()> {
    for name in a.names() {
        ensure!(
            known.contains(&name),
            "{} {}: attribute {name} is not supported",
            a.node.op_type,
            a.node.name,
        );
    }
    Ok(())
}

fn describe(k: usize, n: usize) -> String {
    if k < n {
        format!("node {k}")
    } else {
        format!("leaf {}", k - n)
    }
}

/// `post_transform` where the ONNX spec and onnxruntime (1.31) agree. They disagree on
/// SOFTMAX (1) and LOGISTIC (2): onnxruntime reads 1 as LOGISTIC and 2 as SOFTMAX, and
/// ignores both for one target (microsoft/onnxruntime#26596); either answer would be
/// wrong for someone, so those are refused with the way around them.
fn v5_post_transform(node: &NodeProto, n_targets: i64) -> TractResult<PostTransform> {
    let v: i64 = node.get_attr_opt("post_transform")?.unwrap_or(0);
    let t = match v {
        0 => PostTransform::None,
        1 | 2 => bail!(
            "post_transform {v} ({}) is not supported: onnxruntime applies {} instead, \
             or nothing for one target (microsoft/onnxruntime#26596); export post_transform \
             0 (NONE) followed by a standard Sigmoid or Softmax node",
            ["SOFTMAX", "LOGISTIC"][v as usize - 1],
            ["LOGISTIC", "SOFTMAX"][v as usize - 1],
        ),
        3 => PostTransform::SoftmaxZero,
        4 => PostTransform::Probit,
        v => bail!("unknown post_transform {v}"),
    };
    ensure!(
        !(t == PostTransform::SoftmaxZero && n_targets == 1),
        "post_transform 3 (SOFTMAX_ZERO) with one target is not supported: onnxruntime \
         ignores it there"
    );
    Ok(t)
}

/// `membership_values`: one NaN-delimited set per BRANCH_MEMBER node, in `nodes_modes`
/// order (as onnxruntime reads them; the ONNX reference evaluator takes them in the
/// order its walk meets the nodes).
fn member_sets(ctx: &ParsingContext, a: Attrs, count: usize) -> TractResult<Vec<Vec<f64>>> {
    let values = tensor_values(ctx, a, "membership_values")?.unwrap_or_default();
    let mut sets = vec![];
    let mut current = vec![];
    for v in values {
        if v.is_nan() {
            sets.push(std::mem::take(&mut current));
        } else {
            current.push(v);
        }
    }
    // The last set's NaN may be left out: the spec says NaN *delimits* the sets, and
    // onnxruntime reads up to the end of the list.
    if !current.is_empty() {
        sets.push(current);
    }
    ensure!(
        sets.len() == count,
        "membership_values holds {} sets for {count} BRANCH_MEMBER nodes",
        sets.len()
    );
    Ok(sets)
}

/// A TENSOR attribute's values as f64, of any numeric type.
fn tensor_values(ctx: &ParsingContext, a: Attrs, name: &str) -> TractResult<Option<Vec<f64>>> {
    let Some(t) = a.tensor(ctx, name)? else {
        return Ok(None);
    };
    let t = t.cast_to::<f64>()?;
    Ok(Some(t.try_as_plain_ram()?.as_slice::<f64>()?.to_vec()))
}

fn ints(a: Attrs, name: &str, n: usize) -> TractResult<Vec<i64>> {
    let v: Vec<i64> = a.list(name)?.unwrap_or_default();
    ensure!(v.len() == n, "{name} has {} values, expected {n}", v.len());
    Ok(v)
}

/// A float list attribute `name`, or its opset-3 twin `name_as_tensor` (often double),
/// with `n` values.
fn doubles(ctx: &ParsingContext, a: Attrs, name: &str, n: usize) -> TractResult<Option<Vec<f64>>> {
    let values = doubles_any(ctx, a, name)?;
    if let Some(v) = &values {
        ensure!(v.len() == n, "{name} has {} values, expected {n}", v.len());
    }
    Ok(values)
}

/// As [`doubles`], of any length.
fn doubles_any(ctx: &ParsingContext, a: Attrs, name: &str) -> TractResult<Option<Vec<f64>>> {
    let floats: Option<Vec<f32>> = a.list(name)?;
    let tensor = tensor_values(ctx, a, &format!("{name}_as_tensor"))?;
    Ok(match (floats, tensor) {
        (Some(_), Some(_)) => bail!("both {name} and {name}_as_tensor are set"),
        (Some(f), None) => Some(f.into_iter().map(f64::from).collect()),
        (None, t) => t,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The spec of `file`'s `op` node, read through a hand-built context, as explanations
    /// read it.
    fn spec_of(file: &str, op: &str) -> (TreeSpec, NodeProto) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(file);
        let bytes = std::fs::read(path).unwrap();
        let onnx = super::super::onnx();
        let proto = onnx.proto_model_for_read(&mut &*bytes).unwrap();
        let node = proto
            .graph
            .as_ref()
            .unwrap()
            .node
            .iter()
            .find(|n| n.op_type == op);
        let node = node.unwrap().clone();
        let ctx = ParsingContext {
            onnx_operator_set_version: 21,
            framework: &onnx,
            model: &proto,
            parent_graphs: vec![],
            model_dir: None,
            template: InferenceModel::default(),
        };
        (read_tree_spec(&ctx, &node).unwrap(), node)
    }

    #[test]
    fn opset5_nodes_then_leaves_in_cover_order() {
        let (spec, node) = spec_of("tree_ensemble5/te5_modes_member.onnx", "TreeEnsemble");
        let n = node.get_attr_vec::<i64>("nodes_featureids").unwrap().len();
        let targets = node.get_attr_vec::<i64>("leaf_targetids").unwrap();
        let roots = node.get_attr_vec::<i64>("tree_roots").unwrap();
        assert_eq!(spec.nodes.len(), n + targets.len());
        for (i, s) in spec.nodes.iter().enumerate() {
            assert_eq!(s.node_id, i as i64);
            assert_eq!(s.mode.is_none(), i >= n, "node {i}");
            assert_eq!(
                s.mode == Some(Mode::Member),
                !s.members.is_empty(),
                "node {i}"
            );
        }
        for (t, &r) in roots.iter().enumerate() {
            assert_eq!(spec.nodes[r as usize].tree_id, t as i64);
        }
        assert_eq!(spec.leaves.len(), targets.len());
        for (j, l) in spec.leaves.iter().enumerate() {
            assert_eq!(l.node_id, (n + j) as i64);
            assert_eq!(spec.nodes[n + j].tree_id, l.tree_id);
        }
        // The one-leaf tree: a node whose two branches are its leaf.
        assert!(spec.nodes.iter().any(NodeSpec::is_pass_through));
        assert!(spec.nodes.iter().any(|s| s.mode == Some(Mode::Member)));
        assert!(matches!(spec.kind, TreeKind::Regressor));
        assert!(spec.base_values.is_empty());
        spec.forest().unwrap();
    }

    #[test]
    fn opsets_1_and_3_keep_the_nodes_nodeids_order() {
        let (spec, node) = spec_of("trees_modes_opset1.onnx", "TreeEnsembleRegressor");
        let ids = node.get_attr_vec::<i64>("nodes_nodeids").unwrap();
        let trees = node.get_attr_vec::<i64>("nodes_treeids").unwrap();
        let got: Vec<(i64, i64)> = spec.nodes.iter().map(|s| (s.tree_id, s.node_id)).collect();
        assert_eq!(got, trees.into_iter().zip(ids).collect::<Vec<_>>());
        assert_eq!(spec.base_values, vec![0.75f32 as f64]);
    }

    fn classes(file: &str) -> (ClassifierSpec, PostTransform) {
        let (spec, _) = spec_of(file, "TreeEnsembleClassifier");
        match spec.kind {
            TreeKind::Classifier(c) => (c, spec.post_transform),
            TreeKind::Regressor => panic!("a classifier"),
        }
    }

    /// The binary one-score case reports its score under the positive class.
    #[test]
    fn binary_one_score_columns() {
        let (c, link) = classes("ops/tree_binary_class0_prob_none.onnx");
        let p = ClassColumn {
            target: Some(0),
            sign: 1.0,
            offset: 0.0,
        };
        let one_minus_p = ClassColumn {
            target: Some(0),
            sign: -1.0,
            offset: 1.0,
        };
        assert_eq!(
            (c.columns, link),
            (vec![one_minus_p, p], PostTransform::None)
        );
        assert!(!c.row_dependent);

        let (c, link) = classes("ops/tree_binary_class0_margin_logistic_base1.onnx");
        let b = 0.3f32 as f64;
        let margin = ClassColumn {
            target: Some(0),
            sign: 1.0,
            offset: b,
        };
        let minus = ClassColumn {
            target: Some(0),
            sign: -1.0,
            offset: -b,
        };
        assert_eq!(
            (c.columns, link),
            (vec![minus, margin], PostTransform::Logistic)
        );
    }

    #[test]
    fn multiclass_columns_are_the_targets_plus_base_values() {
        let (c, link) = classes("ops/tree_multiclass_softmax.onnx");
        let base = [0.1f32, -0.2, 0.3];
        let want: Vec<ClassColumn> = (0..3)
            .map(|k| ClassColumn {
                target: Some(k),
                sign: 1.0,
                offset: base[k] as f64,
            })
            .collect();
        assert_eq!((c.columns, link), (want, PostTransform::Softmax));
    }
}
