//! How the model's answer is made of tree-ensemble and linear op outputs, read off the ONNX
//! graph alone (no inference): for each column of the answer tensor (a regressor's score, a
//! classifier's probabilities),
//!
//!   answer[:, c] = link(constant + Σ weight × leaf_out[:, k])
//!
//! over the *leaves*: the `TreeEnsembleRegressor`, `TreeEnsembleClassifier`, `TreeEnsemble`,
//! `LinearRegressor` and `LinearClassifier` ops the answer comes from. `leaf_out[:, k]` is
//! column k of a leaf's output (a classifier's probabilities output) *before* its
//! post_transform; `link` is the one post_transform between the sum and the answer
//! (identity when none), so contributions that add up to the sum add up in the answer's
//! space: "score" (a regressor, no link), "probability" (a classifier without a link, e.g. a
//! random forest) or "margin" (before LOGISTIC, SOFTMAX, SOFTMAX_ZERO or PROBIT).
//!
//! The walk goes back from the answer through `Identity`, `Cast`, re-layouts (`Reshape`,
//! `Flatten`, `Squeeze`, `Unsqueeze`, `Transpose`, `Concat`, `FeatureVectorizer`, `Gather`,
//! `ArrayFeatureExtractor`, `Slice` with constants), `Add`/`Sub`/`Sum`/`Mean`, `Neg`,
//! `Mul`/`Div` by constants, `MatMul`/`Gemm` by a constant matrix, `ReduceSum`/`ReduceMean`
//! (over columns, or over values stacked on a new axis 0 as skl2onnx's BaggingRegressor
//! does), `Split`, and a `LinearRegressor`
//! or `LinearClassifier` whose input comes from other leaves (stacking: its coefficients
//! become the weights, its post_transform the link). A `Softmax` op over the columns of a
//! link-free `[N, C]` value, or a `Sigmoid`, is taken as that post_transform (SOFTMAX,
//! LOGISTIC): an ml opset 5 `TreeEnsemble` classifier is written so. After a link only moves are
//! allowed (and ×1, +0, and the L1 `Normalizer` skl2onnx puts after a SOFTMAX, which leaves
//! it unchanged): anything else there, or any other operator on the way, is refused by
//! name. Nodes that compute only the label output are never visited.
//!
//! How column k of a classifier leaf maps to its trees' targets (the binary one-score case)
//! is the tree spec's business, not this module's.


use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::rc::Rc;

use tract_onnx::pb::{attribute_proto::AttributeType, GraphProto, NodeProto};

use super::lineage::{
    attr, attr_floats, attr_i, attr_ints, attr_s, axes, broadcast, class_count, const_ints,
    n_targets, node_label, non_batch_axis, reduce, slice_args, split, Constant, Index, Laid,
    Operand, Refusal,
};

/// A post_transform: what turns the combined columns into the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// None (`NONE`): the answer is the sum itself.
    Identity,
    Logistic,
    Softmax,
    SoftmaxZero,
    Probit,
}

impl Link {
    /// The ONNX name of the post_transform.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Link::Identity => "NONE",
            Link::Logistic => "LOGISTIC",
            Link::Softmax => "SOFTMAX",
            Link::SoftmaxZero => "SOFTMAX_ZERO",
            Link::Probit => "PROBIT",
        }
    }

    /// A node's `post_transform`: a string (ml opsets 1-3) or an integer (opset 5's
    /// `TreeEnsemble`: 0 NONE, 1 SOFTMAX, 2 LOGISTIC, 3 SOFTMAX_ZERO, 4 PROBIT).
    fn of(node: &NodeProto) -> Result<Link, Refusal> {
        let Some(a) = attr(node, "post_transform") else {
            return Ok(Link::Identity);
        };
        let link = if a.r#type == AttributeType::Int as i32 {
            match a.i {
                0 => Some(Link::Identity),
                1 => Some(Link::Softmax),
                2 => Some(Link::Logistic),
                3 => Some(Link::SoftmaxZero),
                4 => Some(Link::Probit),
                _ => None,
            }
        } else {
            match attr_s(node, "post_transform").as_deref() {
                Some("NONE") | Some("") | None => Some(Link::Identity),
                Some("LOGISTIC") => Some(Link::Logistic),
                Some("SOFTMAX") => Some(Link::Softmax),
                Some("SOFTMAX_ZERO") => Some(Link::SoftmaxZero),
                Some("PROBIT") => Some(Link::Probit),
                Some(_) => None,
            }
        };
        link.ok_or_else(|| Refusal::at(node, "has a post_transform this does not know"))
    }
}

/// A tree-ensemble or linear op the answer is made of.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Leaf {
    /// Its index in `graph.node`.
    pub node: usize,
    /// Its ONNX node name (what the model card's covers and input_means are keyed by).
    pub name: String,
    pub op_type: String,
    /// The tensor it reads (its X), for `lineage::columns`.
    pub input: String,
    /// Whether the terms read its probabilities output (a classifier op).
    pub classifier: bool,
    /// How many columns its output has.
    pub width: usize,
    /// Its own post_transform.
    pub link: Link,
}

/// weight × column `column` of leaf `leaf` (an index into [`Combination::leaves`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Term {
    pub leaf: usize,
    pub column: usize,
    pub weight: f64,
}

/// One answer column: constant + Σ terms (before the link).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    pub constant: f64,
    /// Ordered by (leaf, column), each pair once, no zero weight.
    pub terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Combination {
    /// In graph order.
    pub leaves: Vec<Leaf>,
    /// One per column of the answer tensor (its non-batch cells, row-major).
    pub columns: Vec<Column>,
    /// Between the columns' sums and the answer.
    pub link: Link,
    /// Whether the sums are class probabilities (a classifier's, without a link).
    probability: bool,
}

impl Combination {
    /// The space the columns add up in: "score", "margin" or "probability".
    pub(crate) fn space(&self) -> &'static str {
        match (self.link, self.probability) {
            (Link::Identity, false) => "score",
            (Link::Identity, true) => "probability",
            _ => "margin",
        }
    }
}

/// How each column of `tensor` (the answer: a score, or a classifier's probabilities
/// before any ZipMap) is made of tree-ensemble and linear op outputs.
pub(crate) fn combination(graph: &GraphProto, tensor: &str) -> Result<Combination, Refusal> {
    let index = Index::new(graph);
    let mut walk = Walk {
        index: &index,
        leaves: Vec::new(),
        leaf_of: HashMap::new(),
        probability: false,
    };
    let val = walk.trace(tensor)?;
    let (laid, link) = match &*val {
        Val::Var { laid, link } => (laid, link),
        Val::Const(_) => {
            return Err(Refusal::tensor(
                tensor,
                "does not depend on any tree ensemble or linear op",
            ))
        }
        Val::Stacked { .. } => {
            return Err(Refusal::tensor(
                tensor,
                "has its rows on axis 1, not axis 0",
            ))
        }
    };
    // Leaves in graph order, whatever order the walk met them in.
    let mut leaves = walk.leaves;
    let mut order: Vec<usize> = (0..leaves.len()).collect();
    order.sort_by_key(|&i| leaves[i].node);
    let mut renumber = vec![0; order.len()];
    for (new, &old) in order.iter().enumerate() {
        renumber[old] = new;
    }
    leaves.sort_by_key(|l| l.node);
    let columns = laid
        .cells
        .iter()
        .map(|form| {
            let mut merged: BTreeMap<(usize, usize), f64> = BTreeMap::new();
            for &(leaf, column, weight) in &form.terms {
                *merged.entry((renumber[leaf], column)).or_default() += weight;
            }
            Column {
                constant: form.constant,
                terms: merged
                    .into_iter()
                    .filter(|&(_, w)| w != 0.0)
                    .map(|((leaf, column), weight)| Term {
                        leaf,
                        column,
                        weight,
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(Combination {
        leaves,
        columns,
        link: link.map_or(Link::Identity, |(l, _)| l),
        probability: walk.probability,
    })
}

/// constant + Σ weight × (leaf, column).
#[derive(Debug, Clone, PartialEq, Default)]
struct Form {
    constant: f64,
    terms: Vec<(usize, usize, f64)>,
}

impl Form {
    fn scaled(&self, by: f64) -> Form {
        Form {
            constant: self.constant * by,
            terms: self.terms.iter().map(|&(l, c, w)| (l, c, w * by)).collect(),
        }
    }

    fn add(&mut self, other: &Form, by: f64) {
        self.constant += other.constant * by;
        self.terms
            .extend(other.terms.iter().map(|&(l, c, w)| (l, c, w * by)));
    }
}

/// A post_transform and the node (its graph index) that applies it.
type LinkAt = (Link, usize);

#[derive(Debug, Clone, PartialEq)]
enum Val {
    /// A constant held in the file.
    Const(Constant),
    /// Per cell an affine form of leaf columns; `link` (with the node that applies it) on
    /// top, after which only moves are affine in the margins.
    Var {
        laid: Laid<Form>,
        link: Option<LinkAt>,
    },
    /// `[k, N, dims...]`: values stacked on a new leading axis, the rows on axis 1 (a
    /// BaggingRegressor reshapes each estimator's `[N, 1]` to `[1, N, 1]`, concatenates them
    /// on axis 0 and averages over it). Only that stacking and its reduction are followed.
    Stacked {
        parts: Vec<Laid<Form>>,
        link: Option<LinkAt>,
    },
}

const TREES: &[&str] = &[
    "TreeEnsembleRegressor",
    "TreeEnsembleClassifier",
    "TreeEnsemble",
];
const LINEAR: &[&str] = &["LinearRegressor", "LinearClassifier"];
const CLASSIFIERS: &[&str] = &["TreeEnsembleClassifier", "LinearClassifier"];
/// Moves whose first input is the data; the others are constant parameters.
#[rustfmt::skip]
const MOVES: &[&str] = &[
    "Identity", "Cast", "CastLike", "Dropout", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
    "Transpose", "Gather", "ArrayFeatureExtractor", "Slice", "Split",
];
#[rustfmt::skip]
const ARITHMETIC: &[&str] = &[
    "Add", "Sub", "Sum", "Mean", "Mul", "Div", "Neg", "MatMul", "Gemm",
];

struct Walk<'a, 'g> {
    index: &'a Index<'g>,
    leaves: Vec<Leaf>,
    leaf_of: HashMap<usize, usize>,
    probability: bool,
}

impl Walk<'_, '_> {
    /// Whether a tree-ensemble or linear op writes any tensor `tensor` is computed from:
    /// then a linear op reading it combines them (stacking) instead of being a leaf.
    fn reads_leaves(&self, tensor: &str) -> bool {
        let mut todo = vec![tensor];
        let mut seen = HashSet::new();
        while let Some(t) = todo.pop() {
            if !seen.insert(t) {
                continue;
            }
            if let Some((_, node)) = self.index.writer(t) {
                if TREES.contains(&node.op_type.as_str()) || LINEAR.contains(&node.op_type.as_str())
                {
                    return true;
                }
                todo.extend(
                    node.input
                        .iter()
                        .filter(|i| !i.is_empty())
                        .map(String::as_str),
                );
            }
        }
        false
    }

    /// Which inputs of `node` are walked into (the others are read as constants);
    /// a refusal for an operator the walk does not follow.
    fn data_inputs(&self, node: &NodeProto, output: usize) -> Result<Vec<usize>, Refusal> {
        let op = node.op_type.as_str();
        let refuse = |why: &str| Err(Refusal::at(node, why));
        if CLASSIFIERS.contains(&op) && output == 0 {
            return refuse("gives the answer its label output, not its probabilities");
        }
        if TREES.contains(&op) {
            return Ok(vec![]);
        }
        if LINEAR.contains(&op) {
            let x = node.input.first().map(String::as_str).unwrap_or("");
            return Ok(if self.reads_leaves(x) {
                vec![0]
            } else {
                vec![]
            });
        }
        if op == "Dropout" && output != 0 {
            return refuse("gives the answer its mask output");
        }
        if MOVES.contains(&op) || matches!(op, "Normalizer" | "Softmax" | "Sigmoid") {
            return Ok(vec![0]);
        }
        if op == "ReduceSum" || op == "ReduceMean" {
            return Ok(vec![0]);
        }
        if ARITHMETIC.contains(&op) || op == "Concat" || op == "FeatureVectorizer" {
            return Ok((0..node.input.len())
                .filter(|&i| !node.input[i].is_empty())
                .collect());
        }
        match op {
            "SVMRegressor" | "SVMClassifier" => {
                refuse("is not a tree ensemble or linear op: only those are explained")
            }
            _ if !node
                .input
                .iter()
                .any(|i| !i.is_empty() && self.reads_leaves(i)) =>
            {
                refuse(
                    "computes from the model's inputs a value that reaches the answer other than \
                 through a tree ensemble or linear op (a stacking's passthrough columns, say)",
                )
            }
            "LogSoftmax" | "Exp" | "Log" | "Relu" | "Abs" | "Clip" | "Max" | "Min" | "Pow"
            | "Sqrt" | "Tanh" | "ArgMax" | "ArgMin" | "TopK" | "Reciprocal" | "Where"
            | "Scaler" | "Binarizer" => {
                refuse("is not affine: the answer's contributions cannot be carried through it")
            }
            _ => refuse(
                "is an operator the combination does not follow: the answer cannot be traced \
                 through it to tree ensemble or linear op outputs",
            ),
        }
    }

    fn trace(&mut self, target: &str) -> Result<Rc<Val>, Refusal> {
        let mut memo: HashMap<String, Rc<Val>> = HashMap::new();
        let mut open = HashSet::new();
        let mut stack = vec![(target.to_owned(), false)];
        while let Some((tensor, ready)) = stack.pop() {
            if memo.contains_key(&tensor) {
                continue;
            }
            if let Some(c) = self.index.constant(&tensor) {
                memo.insert(tensor, Rc::new(Val::Const(c)));
                continue;
            }
            let Some((at, node)) = self.index.writer(&tensor) else {
                return Err(Refusal::tensor(
                    &tensor,
                    if self.index.is_initializer(&tensor) {
                        "is an initializer whose values cannot be read"
                    } else {
                        "reaches the answer directly, not through a tree ensemble or linear op"
                    },
                ));
            };
            let output = node
                .output
                .iter()
                .position(|o| *o == tensor)
                .expect("writer");
            let data = self.data_inputs(node, output)?;
            if !ready {
                // Met again before it is done: it is computed from itself.
                if !open.insert(tensor.clone()) {
                    return Err(Refusal::at(node, "is part of a cycle in the graph"));
                }
                stack.push((tensor, true));
                for &i in &data {
                    if !memo.contains_key(&node.input[i]) {
                        stack.push((node.input[i].clone(), false));
                    }
                }
                continue;
            }
            let ins: Vec<(usize, Rc<Val>)> = data
                .iter()
                .map(|&i| {
                    memo.get(&node.input[i])
                        .cloned()
                        .map(|v| (i, v))
                        .ok_or_else(|| Refusal::at(node, "is part of a cycle in the graph"))
                })
                .collect::<Result<_, _>>()?;
            let val = self.eval(at, node, output, &ins)?;
            memo.insert(tensor, Rc::new(val));
        }
        Ok(memo.remove(target).expect("traced"))
    }

    fn leaf(&mut self, at: usize, node: &NodeProto) -> Result<Val, Refusal> {
        let op = node.op_type.as_str();
        let classifier = CLASSIFIERS.contains(&op);
        let width = match op {
            "LinearRegressor" => Some(attr_i(node, "targets").unwrap_or(1)),
            "TreeEnsembleRegressor" | "TreeEnsemble" => n_targets(node).map(|n| n as i64),
            _ => class_count(node).map(|c| c as i64),
        }
        .filter(|&w| w > 0)
        .ok_or_else(|| Refusal::at(node, "does not say how many columns it outputs"))?
            as usize;
        let link = Link::of(node)?;
        let i = *self.leaf_of.entry(at).or_insert_with(|| {
            self.leaves.push(Leaf {
                node: at,
                name: node.name.clone(),
                op_type: op.to_owned(),
                input: node.input.first().cloned().unwrap_or_default(),
                classifier,
                width,
                link,
            });
            self.leaves.len() - 1
        });
        self.probability |= classifier;
        let forms = (0..width)
            .map(|k| Form {
                constant: 0.0,
                terms: vec![(i, k, 1.0)],
            })
            .collect();
        Ok(Val::Var {
            laid: Laid::new(vec![width], forms),
            link: (link != Link::Identity).then_some((link, at)),
        })
    }

    /// The value of output `output` of `node` from its data inputs' values.
    fn eval(
        &mut self,
        at: usize,
        node: &NodeProto,
        output: usize,
        ins: &[(usize, Rc<Val>)],
    ) -> Result<Val, Refusal> {
        let op = node.op_type.as_str();
        let refuse = |why: String| Refusal::at(node, why);
        if TREES.contains(&op) || (LINEAR.contains(&op) && ins.is_empty()) {
            return self.leaf(at, node);
        }
        let input = |i: usize| node.input.get(i).map(String::as_str).unwrap_or("");
        // The linked value an operator other than a move meets: refused.
        let after_link = |link: LinkAt| {
            refuse(format!(
                "combines values after the {} post_transform of node `{}`, where the \
                 contributions no longer add up",
                link.0.name(),
                node_label(&self.index.graph.node[link.1])
            ))
        };
        let var = |k: usize| -> Result<(&Laid<Form>, Option<LinkAt>), Refusal> {
            match ins.get(k).map(|(_, v)| &**v) {
                Some(Val::Var { laid, link }) => Ok((laid, *link)),
                Some(Val::Stacked { .. }) => Err(refuse(format!(
                    "reads `{}`, whose rows were moved to axis 1, and only concatenates or \
                     reduces such values on axis 0",
                    input(ins.get(k).map_or(k, |(i, _)| *i))
                ))),
                _ => Err(refuse(format!(
                    "reads constant `{}` where the answer's values were expected",
                    input(ins.get(k).map_or(k, |(i, _)| *i))
                ))),
            }
        };
        let moved = |f: &dyn Fn(Laid<Form>) -> Result<Laid<Form>, String>| -> Result<Val, Refusal> {
            let (laid, link) = var(0)?;
            Ok(Val::Var {
                laid: f(laid.clone()).map_err(&refuse)?,
                link,
            })
        };
        if ins.iter().any(|(_, v)| matches!(**v, Val::Stacked { .. })) {
            return self.on_stacked(node, ins, &after_link);
        }
        match op {
            "Identity" | "Cast" | "CastLike" | "Dropout" => moved(&|l| Ok(l)),
            "Reshape" => {
                let (_, shape) = const_ints(self.index, node, input(1))?;
                let allowzero = attr_i(node, "allowzero").unwrap_or(0) != 0;
                if let [1, -1, ..] = shape.as_slice() {
                    // [N, ...] to [1, N, ...]: the start of a stacking on axis 0.
                    let (laid, link) = var(0)?;
                    let part = laid
                        .clone()
                        .reshape(&shape[1..], allowzero)
                        .map_err(&refuse)?;
                    return Ok(Val::Stacked {
                        parts: vec![part],
                        link,
                    });
                }
                moved(&|l| l.reshape(&shape, allowzero))
            }
            "Flatten" => moved(&|l| l.flatten(attr_i(node, "axis").unwrap_or(1))),
            "Squeeze" => {
                let axes = axes(self.index, node, 1)?;
                moved(&|l| l.squeeze(axes.as_deref()))
            }
            "Unsqueeze" => {
                let axes =
                    axes(self.index, node, 1)?.ok_or_else(|| refuse("has no axes".into()))?;
                if axes == [0] {
                    let (laid, link) = var(0)?;
                    return Ok(Val::Stacked {
                        parts: vec![laid.clone()],
                        link,
                    });
                }
                moved(&|l| l.unsqueeze(&axes))
            }
            "Transpose" => moved(&|l| l.transpose(attr_ints(node, "perm"))),
            "ArrayFeatureExtractor" => {
                let (_, idx) = const_ints(self.index, node, input(1))?;
                moved(&|l| l.extract(&idx))
            }
            "Gather" => {
                let (idx_dims, idx) = const_ints(self.index, node, input(1))?;
                let axis = attr_i(node, "axis").unwrap_or(0);
                moved(&|l| l.gather(axis, &idx, &idx_dims))
            }
            "Slice" => {
                let a = slice_args(self.index, node)?;
                moved(&|l| l.slice(&a.starts, &a.ends, a.axes.as_deref(), a.steps.as_deref()))
            }
            "Split" => {
                let (laid, link) = var(0)?;
                let mut parts = split(self.index, node, laid.clone())?;
                Ok(Val::Var {
                    laid: parts.swap_remove(output),
                    link,
                })
            }
            "Concat" | "FeatureVectorizer" => {
                if ins.len() == 1 && op == "Concat" {
                    return moved(&|l| Ok(l));
                }
                let mut parts = Vec::with_capacity(ins.len());
                for k in 0..ins.len() {
                    let (laid, link) = var(k)?;
                    if let Some(link) = link {
                        return Err(after_link(link));
                    }
                    parts.push(laid.clone());
                }
                let laid = if op == "Concat" {
                    let axis = attr_i(node, "axis").ok_or_else(|| refuse("has no axis".into()))?;
                    Laid::concat(parts, axis).map_err(refuse)?
                } else {
                    let widths = attr_ints(node, "inputdimensions").unwrap_or(&[]);
                    if widths.len() != parts.len() {
                        return Err(refuse("has no inputdimensions for each input".into()));
                    }
                    let mut cells = Vec::new();
                    for (p, &w) in parts.into_iter().zip(widths) {
                        if p.cells.len() as i64 != w {
                            return Err(refuse(format!(
                                "says an input has {w} columns; it has {}",
                                p.cells.len()
                            )));
                        }
                        cells.extend(p.cells);
                    }
                    Laid::new(vec![cells.len()], cells)
                };
                Ok(Val::Var { laid, link: None })
            }
            "Normalizer" => {
                let (_, link) = var(0)?;
                let norm = attr_s(node, "norm").unwrap_or_default();
                match link {
                    // Softmax rows are positive and sum to 1 already: L1 leaves them as they are.
                    Some((Link::Softmax | Link::SoftmaxZero, _)) if norm == "L1" => {
                        moved(&|l| Ok(l))
                    }
                    _ => Err(refuse(format!(
                        "normalizes each row ({norm}), which is not affine in the values it reads"
                    ))),
                }
            }
            "Add" | "Sub" | "Sum" | "Mean" | "Mul" | "Div" => {
                self.elementwise(node, ins, &after_link)
            }
            "Neg" => {
                let (laid, link) = var(0)?;
                if let Some(link) = link {
                    return Err(after_link(link));
                }
                let cells = laid.cells.iter().map(|f| f.scaled(-1.0)).collect();
                Ok(Val::Var {
                    laid: Laid::new(laid.dims.clone(), cells),
                    link: None,
                })
            }
            "MatMul" | "Gemm" => self.matmul(node, ins, &after_link),
            // As a post_transform: what an ml opset 5 classifier (TreeEnsemble has no
            // post_transform for classes) is followed by.
            "Softmax" | "Sigmoid" => {
                let (laid, link) = var(0)?;
                if let Some(link) = link {
                    return Err(after_link(link));
                }
                let axis = attr_i(node, "axis").unwrap_or(-1);
                if op == "Softmax" && (laid.dims.len() != 1 || !matches!(axis, 1 | -1)) {
                    return Err(refuse(format!(
                        "is a softmax over axis {axis} of rows shaped {:?}, not over the \
                         columns of [N, C]",
                        laid.dims
                    )));
                }
                let link = if op == "Softmax" {
                    Link::Softmax
                } else {
                    Link::Logistic
                };
                Ok(Val::Var {
                    laid: laid.clone(),
                    link: Some((link, at)),
                })
            }
            "ReduceSum" | "ReduceMean" => {
                // Over non-batch axes only (a BaggingRegressor's mean of its estimators).
                let (laid, link) = var(0)?;
                if let Some(link) = link {
                    return Err(after_link(link));
                }
                let axes = match axes(self.index, node, 1)? {
                    Some(a) if !a.is_empty() => a,
                    _ if attr_i(node, "noop_with_empty_axes").unwrap_or(0) != 0 => {
                        return moved(&|l| Ok(l))
                    }
                    _ => return Err(refuse("reduces over every axis, the rows too".into())),
                };
                let over: BTreeSet<usize> = axes
                    .iter()
                    .map(|&a| non_batch_axis(a, laid.dims.len() + 1, "reduces"))
                    .collect::<Result<_, _>>()
                    .map_err(&refuse)?;
                let keepdims = attr_i(node, "keepdims").unwrap_or(1) != 0;
                let (dims, groups) = reduce(&laid.dims, &over, keepdims);
                let cells = groups
                    .iter()
                    .map(|g| {
                        let mut f = Form::default();
                        let by = if op == "ReduceMean" {
                            1.0 / g.len().max(1) as f64
                        } else {
                            1.0
                        };
                        for &i in g {
                            f.add(&laid.cells[i], by);
                        }
                        f
                    })
                    .collect();
                Ok(Val::Var {
                    laid: Laid::new(dims, cells),
                    link: None,
                })
            }
            "LinearRegressor" | "LinearClassifier" => self.stacked(at, node, ins, &after_link),
            _ => Err(refuse(
                "is an operator the combination does not follow".into(),
            )),
        }
    }

    /// What may meet values stacked on axis 0: moves, a Concat on axis 0, a Squeeze of
    /// that axis, a ReduceSum or ReduceMean over it.
    fn on_stacked(
        &self,
        node: &NodeProto,
        ins: &[(usize, Rc<Val>)],
        after_link: &dyn Fn(LinkAt) -> Refusal,
    ) -> Result<Val, Refusal> {
        let op = node.op_type.as_str();
        let refuse = |why: &str| Refusal::at(node, why);
        let stacked = |k: usize| match ins.get(k).map(|(_, v)| &**v) {
            Some(Val::Stacked { parts, link }) => Ok((parts, *link)),
            _ => Err(refuse("mixes values stacked on axis 0 with others")),
        };
        let axes =
            || -> Result<Vec<i64>, Refusal> { Ok(axes(self.index, node, 1)?.unwrap_or_default()) };
        match op {
            "Identity" | "Cast" | "CastLike" => Ok((*ins[0].1).clone()),
            "Concat" if attr_i(node, "axis") == Some(0) => {
                let first = stacked(0)?.0[0].dims.clone();
                let mut parts = Vec::new();
                let mut links = Vec::new();
                for k in 0..ins.len() {
                    let (p, link) = stacked(k)?;
                    if p.iter().any(|p| p.dims != first) {
                        return Err(refuse("concatenates stacked values of different shapes"));
                    }
                    parts.extend(p.iter().cloned());
                    links.push(link);
                }
                if let Some(l) = links.iter().flatten().next().filter(|_| parts.len() > 1) {
                    return Err(after_link(*l));
                }
                Ok(Val::Stacked {
                    parts,
                    link: links[0],
                })
            }
            "Squeeze" | "ReduceSum" | "ReduceMean" if axes()? == [0] => {
                let (parts, link) = stacked(0)?;
                if op == "Squeeze" && parts.len() != 1 {
                    return Err(refuse("squeezes an axis of more than one value"));
                }
                if let Some(l) = link.filter(|_| parts.len() > 1) {
                    return Err(after_link(l));
                }
                let by = if op == "ReduceMean" {
                    1.0 / parts.len() as f64
                } else {
                    1.0
                };
                let cells = (0..parts[0].cells.len())
                    .map(|i| {
                        let mut f = Form::default();
                        for p in parts {
                            f.add(&p.cells[i], by);
                        }
                        f
                    })
                    .collect();
                let laid = Laid::new(parts[0].dims.clone(), cells);
                if op != "Squeeze" && attr_i(node, "keepdims").unwrap_or(1) != 0 {
                    return Ok(Val::Stacked {
                        parts: vec![laid],
                        link,
                    });
                }
                Ok(Val::Var { laid, link })
            }
            _ => Err(refuse(
                "reads values whose rows were moved to axis 1, and only concatenates or \
                 reduces such values on axis 0",
            )),
        }
    }

    /// Add, Sub, Sum, Mean of values and constants; Mul by constants, Div by constants.
    fn elementwise(
        &self,
        node: &NodeProto,
        ins: &[(usize, Rc<Val>)],
        after_link: &dyn Fn(LinkAt) -> Refusal,
    ) -> Result<Val, Refusal> {
        let op = node.op_type.as_str();
        let refuse = |why: String| Refusal::at(node, why);
        let mut operands = Vec::with_capacity(ins.len());
        let mut consts: Vec<Option<Vec<f64>>> = Vec::with_capacity(ins.len());
        let mut link = None;
        let mut n_vars = 0;
        for (i, v) in ins {
            match &**v {
                Val::Var { laid, link: l } => {
                    operands.push(Operand::Var(&laid.dims));
                    consts.push(None);
                    n_vars += 1;
                    link = link.or(*l);
                }
                Val::Stacked { .. } => unreachable!("stacked values are dispatched first"),
                Val::Const(c) => {
                    operands.push(Operand::Const(&c.dims));
                    consts.push(Some(c.floats().ok_or_else(|| {
                        refuse(format!(
                            "reads `{}`, a constant without numeric values",
                            node.input[*i]
                        ))
                    })?));
                }
            }
        }
        let (dims, maps) = broadcast(&operands).map_err(refuse)?;
        let n: usize = dims.iter().product();
        let var_at = |k: usize| match &*ins[k].1 {
            Val::Var { laid, .. } => laid,
            _ => unreachable!("a variable"),
        };
        let is_var: Vec<bool> = consts.iter().map(Option::is_none).collect();
        // What a post_transform's output may meet: nothing but itself, +0, ×1, ÷1.
        if let Some(l) = link {
            let neutral = if matches!(op, "Mul" | "Div") {
                1.0
            } else {
                0.0
            };
            let lone = n_vars == 1
                && (op != "Sub" || is_var[0])
                && (op != "Div" || is_var[0])
                && consts.iter().flatten().flatten().all(|&c| c == neutral);
            if !lone {
                return Err(after_link(l));
            }
        }
        let cells = (0..n)
            .map(|j| -> Result<Form, Refusal> {
                let at = |k: usize| maps[k][j];
                let form = match op {
                    "Add" | "Sum" | "Mean" | "Sub" => {
                        let mut f = Form::default();
                        for k in 0..ins.len() {
                            let sign = if op == "Sub" && k == 1 { -1.0 } else { 1.0 };
                            match &consts[k] {
                                None => f.add(&var_at(k).cells[at(k)], sign),
                                Some(c) => f.constant += sign * c[at(k)],
                            }
                        }
                        if op == "Mean" {
                            f.scaled(1.0 / ins.len() as f64)
                        } else {
                            f
                        }
                    }
                    "Mul" => {
                        if n_vars != 1 {
                            return Err(refuse(
                                "multiplies values derived from the trees or linear ops together, \
                             which is not affine"
                                    .into(),
                            ));
                        }
                        let v = is_var.iter().position(|&b| b).expect("one variable");
                        let by: f64 = consts
                            .iter()
                            .enumerate()
                            .filter_map(|(k, c)| c.as_ref().map(|c| c[at(k)]))
                            .product();
                        var_at(v).cells[at(v)].scaled(by)
                    }
                    _ => {
                        // Div
                        if !is_var[0] || n_vars != 1 {
                            return Err(refuse(
                            "divides by a value derived from the trees or linear ops, which is \
                             not affine"
                                .into(),
                        ));
                        }
                        let by = consts[1].as_ref().expect("constant divisor")[at(1)];
                        if by == 0.0 {
                            return Err(refuse("divides by zero".into()));
                        }
                        var_at(0).cells[at(0)].scaled(1.0 / by)
                    }
                };
                Ok(form)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Val::Var {
            laid: Laid::new(dims, cells),
            link,
        })
    }

    /// `MatMul` (values × constant matrix) and `Gemm` (alpha × values × B + beta × C).
    fn matmul(
        &self,
        node: &NodeProto,
        ins: &[(usize, Rc<Val>)],
        after_link: &dyn Fn(LinkAt) -> Refusal,
    ) -> Result<Val, Refusal> {
        let refuse = |why: &str| Refusal::at(node, why);
        let gemm = node.op_type == "Gemm";
        let (Some(Val::Var { laid: a, link }), Some(Val::Const(b))) = (
            ins.first().map(|(_, v)| &**v),
            ins.get(1).map(|(_, v)| &**v),
        ) else {
            return Err(refuse(
                "multiplies values that are not rows by a constant matrix",
            ));
        };
        if let Some(l) = link {
            return Err(after_link(*l));
        }
        if gemm && attr_i(node, "transA").unwrap_or(0) != 0 {
            return Err(refuse("transposes the rows (transA)"));
        }
        let w = b
            .floats()
            .filter(|_| b.dims.len() == 2)
            .ok_or_else(|| refuse("multiplies by a constant that is not a numeric matrix"))?;
        let trans_b = gemm && attr_i(node, "transB").unwrap_or(0) != 0;
        let (k, m) = if trans_b {
            (b.dims[1], b.dims[0])
        } else {
            (b.dims[0], b.dims[1])
        };
        if a.dims.last() != Some(&k) || (gemm && a.dims.len() != 1) {
            return Err(Refusal::at(
                node,
                format!("multiplies rows of {:?} by a {k}×{m} matrix", a.dims),
            ));
        }
        let (alpha, beta) = if gemm {
            let f = |n: &str| attr(node, n).map_or(1.0, |a| a.f as f64);
            (f("alpha"), f("beta"))
        } else {
            (1.0, 1.0)
        };
        let mut dims = a.dims.clone();
        *dims.last_mut().expect("k") = m;
        let outer = a.cells.len() / k.max(1);
        let mut cells = Vec::with_capacity(outer * m);
        for o in 0..outer {
            for c in 0..m {
                let mut f = Form::default();
                for r in 0..k {
                    let wv = w[if trans_b { c * k + r } else { r * m + c }];
                    f.add(&a.cells[o * k + r], alpha * wv);
                }
                cells.push(f);
            }
        }
        let mut laid = Laid::new(dims, cells);
        if let Some((_, c)) = ins.get(2) {
            let Val::Const(c) = &**c else {
                return Err(refuse("adds a bias that is not a constant"));
            };
            let values = c
                .floats()
                .ok_or_else(|| refuse("adds a bias without numeric values"))?;
            let (dims, maps) = broadcast(&[Operand::Var(&laid.dims), Operand::Const(&c.dims)])
                .map_err(|e| Refusal::at(node, e))?;
            let cells = (0..maps[0].len())
                .map(|j| {
                    let mut f = laid.cells[maps[0][j]].clone();
                    f.constant += beta * values[maps[1][j]];
                    f
                })
                .collect();
            laid = Laid::new(dims, cells);
        }
        Ok(Val::Var { laid, link: None })
    }

    /// A `LinearRegressor` or `LinearClassifier` over other leaves' outputs (a stacking's
    /// final estimator): its coefficients weigh them, its post_transform is the link.
    fn stacked(
        &mut self,
        at: usize,
        node: &NodeProto,
        ins: &[(usize, Rc<Val>)],
        after_link: &dyn Fn(LinkAt) -> Refusal,
    ) -> Result<Val, Refusal> {
        let refuse = |why: String| Refusal::at(node, why);
        let Some(Val::Var { laid, link }) = ins.first().map(|(_, v)| &**v) else {
            return Err(refuse("reads a constant".into()));
        };
        if let Some(l) = link {
            return Err(after_link(*l));
        }
        let k = laid.cells.len();
        let coefficients: Vec<f64> = attr_floats(node, "coefficients")
            .unwrap_or(&[])
            .iter()
            .map(|&c| c as f64)
            .collect();
        let intercepts: Vec<f64> = attr_floats(node, "intercepts")
            .unwrap_or(&[])
            .iter()
            .map(|&c| c as f64)
            .collect();
        if k == 0 || coefficients.is_empty() || !coefficients.len().is_multiple_of(k) {
            return Err(refuse(format!(
                "has {} coefficients for {k} input columns",
                coefficients.len()
            )));
        }
        let rows = coefficients.len() / k;
        if node.op_type == "LinearRegressor" {
            let targets = attr_i(node, "targets").unwrap_or(1) as usize;
            if rows != targets {
                return Err(refuse(format!(
                    "has {rows} coefficient rows for {targets} targets"
                )));
            }
        } else {
            let classes = class_count(node).unwrap_or(0);
            if rows != classes {
                return Err(refuse(format!(
                    "has {rows} coefficient rows for {classes} classes: only one row per class \
                     is followed in a stacking's final estimator"
                )));
            }
            self.probability = true;
        }
        if !(intercepts.is_empty() || intercepts.len() == rows) {
            return Err(refuse(format!(
                "has {} intercepts for {rows} rows",
                intercepts.len()
            )));
        }
        let cells = (0..rows)
            .map(|t| {
                let mut f = Form {
                    constant: intercepts.get(t).copied().unwrap_or(0.0),
                    terms: vec![],
                };
                for (j, cell) in laid.cells.iter().enumerate() {
                    f.add(cell, coefficients[t * k + j]);
                }
                f
            })
            .collect();
        let link = Link::of(node)?;
        Ok(Val::Var {
            laid: Laid::new(vec![rows], cells),
            link: (link != Link::Identity).then_some((link, at)),
        })
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(refused(&g, "plus_input").to_string(), "tensor `features` reaches the answer directly, not through a tree ensemble or linear op");
        assert_eq!(refused(&g, "squared").node, "square");
        assert_eq!(refused(&g, "inv").node, "inverse");
        assert_eq!(refused(&g, "sv").to_string(), "node `svr` (SVMRegressor) is not a tree ensemble or linear op: only those are explained");
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
}
