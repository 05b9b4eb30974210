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
mod tests;
