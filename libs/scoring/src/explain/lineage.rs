//! Which model input feature each column of a tensor in the graph derives from, read off the
//! ONNX graph alone (no inference): what lets the contributions to a tree ensemble's (or a
//! linear op's) input columns be summed back per input feature.
//!
//! [`columns`] walks back from a tensor to the graph inputs and forward again with one rule
//! per operator. Every tensor gets a *lineage*: for each cell of its non-batch axes (row
//! major), the one input feature it derives from, none (a constant), or a mix of several
//! (with the node that mixed them). Widths come from attributes, initializers and the graph
//! inputs. An operator without a rule here is refused by name, never guessed at.
//!
//! The rules: cellwise ops (Identity, Cast, Scaler, Imputer, Binarizer, LabelEncoder,
//! CategoryMapper, Abs, Log, Sigmoid...) keep each cell; elementwise ops (Add, Sub, Mul, Div,
//! Pow, Where, Less...) broadcast numpy-style and join their operands' sources (x × 0 is a
//! constant); OneHotEncoder and the standard OneHot repeat a cell per category; Concat,
//! FeatureVectorizer, Split, Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Expand, Tile,
//! Gather, ArrayFeatureExtractor and Slice (with constants) re-lay cells; MatMul and Gemm by
//! a constant matrix join the input columns each output column has a non-zero weight for;
//! reductions and ArgMax join along their axes; Normalizer, Softmax and the model ops
//! (linear, tree, SVM) join their whole row. A cell joining several features is refused
//! only if it reaches the tensor asked about, naming the node where they first met.
//!
//! The first axis is the batch (rows) throughout: an operator that moves values between rows
//! (a Reshape of the batch axis, a Gather on axis 0, a ReduceSum over all axes) is refused.
//!
//! The graph helpers (`Index`, the constant reader, attribute getters) and the re-layout
//! rules (`Laid`: reshape, concat, gather, slice, broadcast...) are shared with
//! `combination`, which moves affine forms where this moves feature sources.


use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::rc::Rc;

use tract_onnx::pb::{
    attribute_proto::AttributeType, tensor_proto::DataType, AttributeProto, GraphProto, NodeProto,
    TensorProto,
};

use crate::feature::InputLayout;
use crate::schema::{graph_inputs, FeatureSchema};

/// Where one column of a tensor comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// From this model input feature alone (its index in the schema), possibly with constants.
    Feature(usize),
    /// From no input feature: a constant column.
    Constant,
}

/// Why a graph cannot be explained: the node (its name, or the first tensor it writes when
/// it has none) and operator type where the analysis stopped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The ONNX operator type; empty when the problem is a tensor, not a node.
    pub op_type: String,
    /// The node's name (or, for a tensor problem, the tensor's name).
    pub node: String,
    pub reason: String,
}

impl Refusal {
    pub(crate) fn at(node: &NodeProto, reason: impl Into<String>) -> Refusal {
        Refusal {
            op_type: node.op_type.clone(),
            node: node_label(node),
            reason: reason.into(),
        }
    }

    pub(crate) fn tensor(tensor: &str, reason: impl Into<String>) -> Refusal {
        Refusal {
            op_type: String::new(),
            node: tensor.to_owned(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.op_type.is_empty() {
            write!(f, "tensor `{}` {}", self.node, self.reason)
        } else {
            write!(f, "node `{}` ({}) {}", self.node, self.op_type, self.reason)
        }
    }
}

impl std::error::Error for Refusal {}

/// A node's name, or (converters leave some unnamed) the first tensor it writes.
pub(crate) fn node_label(node: &NodeProto) -> String {
    if !node.name.is_empty() {
        node.name.clone()
    } else {
        node.output.first().cloned().unwrap_or_default()
    }
}

/// For each column of `tensor` (the cells of its non-batch axes in row-major order: the C
/// of a `[N, C]` or `[N, 1, C]` tensor, 1 for `[N]`), the one model input feature it
/// derives from, or none. Refused when a column mixes several features, or when the way
/// there passes an operator this cannot analyse (named in the refusal).
pub(crate) fn columns(
    graph: &GraphProto,
    schema: &FeatureSchema,
    tensor: &str,
) -> Result<Vec<Source>, Refusal> {
    let index = Index::new(graph);
    let lineage = Tracer {
        index: &index,
        schema,
    }
    .trace(tensor)?;
    let cells = match &*lineage {
        Lin::Const(Some(dims)) => {
            let columns = dims.iter().skip(1).product::<usize>();
            return Ok(vec![Source::Constant; columns]);
        }
        Lin::Const(None) => {
            return Err(Refusal::tensor(
                tensor,
                "derives from no input and its shape cannot be told",
            ))
        }
        Lin::Uniform(cell) => {
            if let Cell::Mixed(mix) = cell {
                return Err(mix.refusal(&index, schema));
            }
            return Err(Refusal::tensor(
                tensor,
                "has a shape that cannot be told from the graph's attributes and constants",
            ));
        }
        Lin::Known(laid) => &laid.cells,
    };
    cells
        .iter()
        .map(|cell| match cell {
            Cell::Const => Ok(Source::Constant),
            Cell::Feature(f) => Ok(Source::Feature(*f)),
            Cell::Mixed(mix) => Err(mix.refusal(&index, schema)),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The graph, indexed; constants and attributes.

/// The graph with, for each tensor, the node that writes it, and the initializers by name.
pub(super) struct Index<'g> {
    pub graph: &'g GraphProto,
    writers: HashMap<&'g str, usize>,
    initializers: HashMap<&'g str, &'g TensorProto>,
}

impl<'g> Index<'g> {
    pub fn new(graph: &'g GraphProto) -> Index<'g> {
        let mut writers = HashMap::new();
        for (i, node) in graph.node.iter().enumerate() {
            for output in node.output.iter().filter(|o| !o.is_empty()) {
                writers.entry(output.as_str()).or_insert(i);
            }
        }
        Index {
            graph,
            writers,
            initializers: graph
                .initializer
                .iter()
                .map(|t| (t.name.as_str(), t))
                .collect(),
        }
    }

    /// The node writing `tensor`, with its index in the graph.
    pub fn writer(&self, tensor: &str) -> Option<(usize, &'g NodeProto)> {
        self.writers.get(tensor).map(|&i| (i, &self.graph.node[i]))
    }

    pub fn is_initializer(&self, tensor: &str) -> bool {
        self.initializers.contains_key(tensor)
    }

    /// A constant's shape and values when the file holds them: an initializer, a `Constant`
    /// node, or one of those through `Identity` or `Cast`.
    pub fn constant(&self, tensor: &str) -> Option<Constant> {
        let mut tensor = tensor;
        let mut casts = Vec::new();
        // Bounded: a chain longer than the graph is a cycle.
        for _ in 0..=self.graph.node.len() {
            if let Some(t) = self.initializers.get(tensor) {
                return casts.iter().rev().try_fold(decode(t)?, |c, &to| c.cast(to));
            }
            let (_, node) = self.writer(tensor)?;
            match node.op_type.as_str() {
                "Constant" => {
                    let c = constant_node(node)?;
                    return casts.iter().rev().try_fold(c, |c, &to| c.cast(to));
                }
                "Identity" => {}
                "Cast" => casts.push(attr_i(node, "to")?),
                _ => return None,
            }
            tensor = node.input.first()?;
        }
        None
    }
}

/// A constant tensor's full shape and values.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Constant {
    pub dims: Vec<usize>,
    pub values: Values,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Values {
    Int(Vec<i64>),
    Float(Vec<f64>),
    /// Strings, or a type whose values nothing here reads.
    Other,
}

impl Constant {
    pub fn ints(&self) -> Option<Vec<i64>> {
        match &self.values {
            Values::Int(v) => Some(v.clone()),
            Values::Float(v) if v.iter().all(|x| x.fract() == 0.0) => {
                Some(v.iter().map(|&x| x as i64).collect())
            }
            _ => None,
        }
    }

    pub fn floats(&self) -> Option<Vec<f64>> {
        match &self.values {
            Values::Int(v) => Some(v.iter().map(|&x| x as f64).collect()),
            Values::Float(v) => Some(v.clone()),
            Values::Other => None,
        }
    }

    fn cast(self, to: i64) -> Option<Constant> {
        let to = DataType::try_from(to as i32).ok()?;
        let values = match (to, self.values) {
            (DataType::Float, v) => Values::Float(
                Constant {
                    dims: vec![],
                    values: v,
                }
                .floats()?
                .into_iter()
                .map(|x| x as f32 as f64)
                .collect(),
            ),
            (DataType::Double, v) => Values::Float(
                Constant {
                    dims: vec![],
                    values: v,
                }
                .floats()?,
            ),
            (
                DataType::Int64 | DataType::Int32 | DataType::Int16 | DataType::Int8,
                Values::Float(v),
            ) => Values::Int(v.into_iter().map(|x| x.trunc() as i64).collect()),
            (DataType::Int64 | DataType::Int32 | DataType::Int16 | DataType::Int8, v) => v,
            _ => Values::Other,
        };
        Some(Constant {
            dims: self.dims,
            values,
        })
    }
}

/// Reads a tensor's values: typed fields or `raw_data` (little-endian); `None` for external
/// data or a length that does not match the shape.
pub(super) fn decode(t: &TensorProto) -> Option<Constant> {
    if t.data_location == Some(1) {
        return None;
    }
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).ok())
        .collect::<Option<_>>()?;
    let n: usize = dims.iter().product();
    let raw = &t.raw_data;
    fn chunks<const W: usize, T>(raw: &[u8], f: fn([u8; W]) -> T) -> Vec<T> {
        raw.chunks_exact(W)
            .map(|c| f(c.try_into().expect("chunks_exact gives W bytes")))
            .collect()
    }
    let values = match DataType::try_from(t.data_type).ok()? {
        DataType::Float if !raw.is_empty() => {
            Values::Float(chunks(raw, |b| f32::from_le_bytes(b) as f64))
        }
        DataType::Float => Values::Float(t.float_data.iter().map(|&x| x as f64).collect()),
        DataType::Double if !raw.is_empty() => Values::Float(chunks(raw, f64::from_le_bytes)),
        DataType::Double => Values::Float(t.double_data.clone()),
        DataType::Int64 if !raw.is_empty() => Values::Int(chunks(raw, i64::from_le_bytes)),
        DataType::Int64 => Values::Int(t.int64_data.clone()),
        DataType::Int32 if !raw.is_empty() => {
            Values::Int(chunks(raw, |b| i32::from_le_bytes(b) as i64))
        }
        DataType::Int16 if !raw.is_empty() => {
            Values::Int(chunks(raw, |b| i16::from_le_bytes(b) as i64))
        }
        DataType::Uint16 if !raw.is_empty() => {
            Values::Int(chunks(raw, |b| u16::from_le_bytes(b) as i64))
        }
        DataType::Int8 if !raw.is_empty() => {
            Values::Int(chunks(raw, |b: [u8; 1]| b[0] as i8 as i64))
        }
        DataType::Uint8 | DataType::Bool if !raw.is_empty() => {
            Values::Int(chunks(raw, |b: [u8; 1]| b[0] as i64))
        }
        DataType::Int32
        | DataType::Int16
        | DataType::Int8
        | DataType::Uint16
        | DataType::Uint8
        | DataType::Bool => Values::Int(t.int32_data.iter().map(|&x| x as i64).collect()),
        DataType::Uint32 if !raw.is_empty() => {
            Values::Int(chunks(raw, |b| u32::from_le_bytes(b) as i64))
        }
        DataType::Uint32 => Values::Int(t.uint64_data.iter().map(|&x| x as i64).collect()),
        _ => Values::Other,
    };
    let len = match &values {
        Values::Int(v) => v.len(),
        Values::Float(v) => v.len(),
        Values::Other => n,
    };
    (len == n).then_some(Constant { dims, values })
}

fn constant_node(node: &NodeProto) -> Option<Constant> {
    let a = node.attribute.first()?;
    Some(match a.name.as_str() {
        "value" => decode(a.t.as_ref()?)?,
        "value_float" => Constant {
            dims: vec![],
            values: Values::Float(vec![a.f as f64]),
        },
        "value_floats" => Constant {
            dims: vec![a.floats.len()],
            values: Values::Float(a.floats.iter().map(|&x| x as f64).collect()),
        },
        "value_int" => Constant {
            dims: vec![],
            values: Values::Int(vec![a.i]),
        },
        "value_ints" => Constant {
            dims: vec![a.ints.len()],
            values: Values::Int(a.ints.clone()),
        },
        "value_string" => Constant {
            dims: vec![],
            values: Values::Other,
        },
        "value_strings" => Constant {
            dims: vec![a.strings.len()],
            values: Values::Other,
        },
        _ => return None,
    })
}

pub(super) fn attr<'n>(node: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

pub(super) fn attr_i(node: &NodeProto, name: &str) -> Option<i64> {
    attr(node, name).map(|a| a.i)
}

pub(super) fn attr_ints<'n>(node: &'n NodeProto, name: &str) -> Option<&'n [i64]> {
    attr(node, name).map(|a| a.ints.as_slice())
}

pub(super) fn attr_floats<'n>(node: &'n NodeProto, name: &str) -> Option<&'n [f32]> {
    attr(node, name).map(|a| a.floats.as_slice())
}

/// A string attribute (`post_transform`, `norm`...), lossily decoded.
pub(super) fn attr_s(node: &NodeProto, name: &str) -> Option<String> {
    attr(node, name)
        .filter(|a| a.r#type == AttributeType::String as i32 || !a.s.is_empty())
        .map(|a| String::from_utf8_lossy(&a.s).into_owned())
}

/// How many classes a classifier op names (`classlabels_*`): the width of its probabilities.
pub(super) fn class_count(node: &NodeProto) -> Option<usize> {
    [
        "classlabels_strings",
        "classlabels_int64s",
        "classlabels_ints",
    ]
    .iter()
    .filter_map(|n| attr(node, n))
    .map(|a| a.strings.len().max(a.ints.len()))
    .find(|&n| n > 0)
}

/// An axes list from attribute `axes` (older opsets) or the constant input `at` (newer).
/// `Ok(None)` when neither is given; `Err` when the input is not a constant in the file.
pub(super) fn axes(
    index: &Index,
    node: &NodeProto,
    at: usize,
) -> Result<Option<Vec<i64>>, Refusal> {
    if let Some(a) = attr_ints(node, "axes") {
        return Ok(Some(a.to_vec()));
    }
    match node.input.get(at).filter(|i| !i.is_empty()) {
        None => Ok(None),
        Some(t) => const_ints(index, node, t).map(|(_, v)| Some(v)),
    }
}

/// The integer values (and shape) of constant input `tensor` of `node`.
pub(super) fn const_ints(
    index: &Index,
    node: &NodeProto,
    tensor: &str,
) -> Result<(Vec<usize>, Vec<i64>), Refusal> {
    index
        .constant(tensor)
        .and_then(|c| Some((c.dims.clone(), c.ints()?)))
        .ok_or_else(|| {
            Refusal::at(
                node,
                format!("reads `{tensor}`, which is not an integer constant held in the file"),
            )
        })
}

// ---------------------------------------------------------------------------------------
// Re-layout of the non-batch axes, shared with `combination`.

/// A tensor's cells over its non-batch axes (`dims`), row-major: whatever is tracked per
/// cell (a feature source here, an affine form in `combination`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Laid<T> {
    pub dims: Vec<usize>,
    pub cells: Vec<T>,
}

fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

fn unravel(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut at = vec![0; dims.len()];
    for a in (0..dims.len()).rev() {
        if dims[a] > 0 {
            at[a] = i % dims[a];
            i /= dims[a];
        }
    }
    at
}

/// An axis of a tensor of `rank` axes (batch included), negative counting from the end,
/// as a position in the non-batch dims; axis 0 (the rows) is refused with `what`.
pub(super) fn non_batch_axis(axis: i64, rank: usize, what: &str) -> Result<usize, String> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    if a < 0 || a >= rank as i64 {
        return Err(format!("has axis {axis}, outside a tensor of {rank} axes"));
    }
    if a == 0 {
        return Err(format!("{what} along the batch axis (axis 0, the rows)"));
    }
    Ok(a as usize - 1)
}

impl<T: Clone> Laid<T> {
    pub fn new(dims: Vec<usize>, cells: Vec<T>) -> Laid<T> {
        debug_assert_eq!(dims.iter().product::<usize>(), cells.len());
        Laid { dims, cells }
    }

    /// Every cell `cell`, over `dims`.
    pub fn filled(dims: Vec<usize>, cell: T) -> Laid<T> {
        let n = dims.iter().product();
        Laid::new(dims, vec![cell; n])
    }

    fn rank(&self) -> usize {
        self.dims.len() + 1
    }

    /// ONNX `Reshape` to `shape` (0 copies an axis unless `allowzero`, one -1 is inferred).
    /// Only the non-batch axes may be regrouped: row-major order keeps every cell.
    pub fn reshape(self, shape: &[i64], allowzero: bool) -> Result<Laid<T>, String> {
        let Some((&first, tail)) = shape.split_first() else {
            return Err("reshapes each row to a scalar".into());
        };
        if !(first == -1 || (first == 0 && !allowzero)) {
            return Err(format!(
                "reshapes the batch axis (rows) to {first}: values would move between rows"
            ));
        }
        let mut dims = Vec::with_capacity(tail.len());
        let mut infer = None;
        for (i, &s) in tail.iter().enumerate() {
            match s {
                0 if !allowzero => dims.push(*self.dims.get(i).ok_or_else(|| {
                    format!("copies axis {} of a tensor of {} axes", i + 1, self.rank())
                })?),
                -1 if infer.is_none() && first != -1 => {
                    infer = Some(i);
                    dims.push(1);
                }
                s if s >= 0 => dims.push(s as usize),
                _ => return Err(format!("has a shape it cannot reshape to: {shape:?}")),
            }
        }
        let total = self.cells.len();
        if let Some(i) = infer {
            let rest: usize = dims.iter().product();
            if rest == 0 || !total.is_multiple_of(rest) {
                return Err(format!("cannot fit {total} values a row into {shape:?}"));
            }
            dims[i] = total / rest;
        }
        if dims.iter().product::<usize>() != total {
            return Err(format!(
                "reshapes rows of {:?} to {:?}: values would move between rows",
                self.dims, tail
            ));
        }
        Ok(Laid::new(dims, self.cells))
    }

    /// ONNX `Flatten` at `axis`: `[N·a, b]`, so the axes before `axis` besides the batch must
    /// be of size 1.
    pub fn flatten(self, axis: i64) -> Result<Laid<T>, String> {
        let rank = self.rank() as i64;
        let a = if axis < 0 { axis + rank } else { axis };
        if a <= 0 || a > rank {
            return Err(format!(
                "flattens at axis {axis}, folding the rows into the columns"
            ));
        }
        let a = a as usize - 1;
        if self.dims[..a].iter().product::<usize>() != 1 {
            return Err(format!(
                "flattens at axis {axis}, folding axes of {:?} into the rows",
                self.dims
            ));
        }
        let n = self.cells.len();
        Ok(Laid::new(vec![n], self.cells))
    }

    /// ONNX `Squeeze`: `axes` (all size-1 non-batch axes when `None`).
    pub fn squeeze(self, axes: Option<&[i64]>) -> Result<Laid<T>, String> {
        let rank = self.rank();
        let drop: BTreeSet<usize> = match axes {
            None => (0..self.dims.len())
                .filter(|&a| self.dims[a] == 1)
                .collect(),
            Some(axes) => axes
                .iter()
                .map(|&x| non_batch_axis(x, rank, "squeezes"))
                .collect::<Result<_, _>>()?,
        };
        if let Some(a) = drop.iter().find(|&&a| self.dims[a] != 1) {
            return Err(format!("squeezes axis {} of size {}", a + 1, self.dims[*a]));
        }
        let dims = (0..self.dims.len())
            .filter(|a| !drop.contains(a))
            .map(|a| self.dims[a])
            .collect();
        Ok(Laid::new(dims, self.cells))
    }

    /// ONNX `Unsqueeze`: inserts size-1 axes at `axes` (positions in the output).
    pub fn unsqueeze(self, axes: &[i64]) -> Result<Laid<T>, String> {
        let out_rank = self.rank() + axes.len();
        let at: BTreeSet<usize> = axes
            .iter()
            .map(|&x| non_batch_axis(x, out_rank, "inserts an axis"))
            .collect::<Result<_, _>>()?;
        if at.len() != axes.len() {
            return Err(format!("inserts axes {axes:?}, one of them twice"));
        }
        let mut old = self.dims.iter();
        let dims = (0..out_rank - 1)
            .map(|a| {
                if at.contains(&a) {
                    1
                } else {
                    *old.next().expect("ranks add up")
                }
            })
            .collect();
        Ok(Laid::new(dims, self.cells))
    }

    /// ONNX `Transpose`: the batch axis must stay first.
    pub fn transpose(self, perm: Option<&[i64]>) -> Result<Laid<T>, String> {
        let rank = self.rank();
        let perm: Vec<usize> = match perm {
            Some(p) => p.iter().map(|&x| x as usize).collect(),
            None => (0..rank).rev().collect(),
        };
        let mut sorted = perm.clone();
        sorted.sort_unstable();
        if sorted != (0..rank).collect::<Vec<_>>() {
            return Err(format!("has a permutation {perm:?} of {rank} axes"));
        }
        if perm[0] != 0 {
            return Err("moves the batch axis (rows) away from axis 0".into());
        }
        let order: Vec<usize> = perm[1..].iter().map(|&p| p - 1).collect();
        let dims: Vec<usize> = order.iter().map(|&p| self.dims[p]).collect();
        let from = strides(&self.dims);
        let cells = (0..self.cells.len())
            .map(|i| {
                let at = unravel(i, &dims);
                let src: usize = at.iter().zip(&order).map(|(&x, &p)| x * from[p]).sum();
                self.cells[src].clone()
            })
            .collect();
        Ok(Laid::new(dims, cells))
    }

    /// ONNX `Concat` along `axis` (not the batch's).
    pub fn concat(parts: Vec<Laid<T>>, axis: i64) -> Result<Laid<T>, String> {
        let Some(rank) = parts.first().map(Laid::rank) else {
            return Err("concatenates nothing".into());
        };
        if parts.iter().any(|p| p.rank() != rank) {
            return Err("concatenates tensors of different ranks".into());
        }
        let a = non_batch_axis(axis, rank, "concatenates")?;
        let mut dims = parts[0].dims.clone();
        dims[a] = 0;
        for p in &parts {
            let same = (0..dims.len()).all(|i| i == a || p.dims[i] == dims[i]);
            if !same {
                return Err(format!(
                    "concatenates shapes {:?} and {:?} along axis {axis}",
                    parts[0].dims, p.dims
                ));
            }
            dims[a] += p.dims[a];
        }
        let outer: usize = dims[..a].iter().product();
        let mut cells = Vec::with_capacity(dims.iter().product());
        for o in 0..outer {
            for p in &parts {
                let chunk: usize = p.dims[a..].iter().product();
                cells.extend_from_slice(&p.cells[o * chunk..(o + 1) * chunk]);
            }
        }
        Ok(Laid::new(dims, cells))
    }

    /// ONNX `Gather` along `axis` (not the batch's) with constant `indices` of shape `idx_dims`.
    pub fn gather(self, axis: i64, indices: &[i64], idx_dims: &[usize]) -> Result<Laid<T>, String> {
        let a = non_batch_axis(axis, self.rank(), "selects")?;
        let size = self.dims[a];
        let picks: Vec<usize> = indices
            .iter()
            .map(|&i| {
                let j = if i < 0 { i + size as i64 } else { i };
                usize::try_from(j)
                    .ok()
                    .filter(|&j| j < size)
                    .ok_or_else(|| format!("selects index {i} of an axis of {size}"))
            })
            .collect::<Result<_, _>>()?;
        let mut dims = self.dims[..a].to_vec();
        dims.extend_from_slice(idx_dims);
        dims.extend_from_slice(&self.dims[a + 1..]);
        let outer: usize = self.dims[..a].iter().product();
        let inner: usize = self.dims[a + 1..].iter().product();
        let mut cells = Vec::with_capacity(outer * picks.len() * inner);
        for o in 0..outer {
            for &k in &picks {
                let start = (o * size + k) * inner;
                cells.extend_from_slice(&self.cells[start..start + inner]);
            }
        }
        Ok(Laid::new(dims, cells))
    }

    /// `ai.onnx.ml.ArrayFeatureExtractor`: the last axis replaced by the (flattened) indices.
    pub fn extract(self, indices: &[i64]) -> Result<Laid<T>, String> {
        if self.dims.is_empty() {
            return Err("selects along its input's only axis, the rows".into());
        }
        self.gather(-1, indices, &[indices.len()])
    }

    /// ONNX `Tile`: the batch axis repeated once, the others as `repeats` says.
    pub fn tile(self, repeats: &[i64]) -> Result<Laid<T>, String> {
        if repeats.len() != self.rank() || repeats.iter().any(|&r| r < 1) {
            return Err(format!(
                "tiles {repeats:?} a tensor of {} axes",
                self.rank()
            ));
        }
        if repeats[0] != 1 {
            return Err("repeats the rows (axis 0)".into());
        }
        let dims: Vec<usize> = self
            .dims
            .iter()
            .zip(&repeats[1..])
            .map(|(&d, &r)| d * r as usize)
            .collect();
        let from = strides(&self.dims);
        let n = dims.iter().product();
        let cells = (0..n)
            .map(|i| {
                let src: usize = unravel(i, &dims)
                    .iter()
                    .enumerate()
                    .map(|(a, &x)| (x % self.dims[a]) * from[a])
                    .sum();
                self.cells[src].clone()
            })
            .collect();
        Ok(Laid::new(dims, cells))
    }

    /// ONNX `Split` along `axis` (not the batch's) into consecutive parts of `sizes`.
    pub fn split(self, axis: i64, sizes: &[usize]) -> Result<Vec<Laid<T>>, String> {
        let a = non_batch_axis(axis, self.rank(), "splits")?;
        if sizes.iter().sum::<usize>() != self.dims[a] {
            return Err(format!(
                "splits an axis of {} into parts of {sizes:?}",
                self.dims[a]
            ));
        }
        let mut start = 0;
        sizes
            .iter()
            .map(|&n| {
                let idx: Vec<i64> = (start..start + n).map(|i| i as i64).collect();
                start += n;
                self.clone().gather(a as i64 + 1, &idx, &[n])
            })
            .collect()
    }

    /// ONNX `Slice` (constant starts, ends, axes, steps), clamped as the standard says.
    pub fn slice(
        self,
        starts: &[i64],
        ends: &[i64],
        axes: Option<&[i64]>,
        steps: Option<&[i64]>,
    ) -> Result<Laid<T>, String> {
        if starts.len() != ends.len() {
            return Err("has starts and ends of different lengths".into());
        }
        let mut x = self;
        for i in 0..starts.len() {
            let axis = axes.map_or(i as i64, |a| a[i]);
            let step = steps.map_or(1, |s| s[i]);
            if step == 0 {
                return Err("slices with a step of 0".into());
            }
            let rank = x.rank() as i64;
            if axis == 0 || axis == -rank {
                // The whole batch axis is a no-op; anything else drops rows.
                if step == 1 && starts[i] == 0 && ends[i] >= i32::MAX as i64 {
                    continue;
                }
                return Err("slices the batch axis (axis 0, the rows)".into());
            }
            let a = non_batch_axis(axis, x.rank(), "slices")?;
            let d = x.dims[a] as i64;
            let norm = |v: i64| if v < 0 { v + d } else { v };
            let (start, end) = if step > 0 {
                (norm(starts[i]).clamp(0, d), norm(ends[i]).clamp(0, d))
            } else {
                (
                    norm(starts[i]).clamp(0, d - 1),
                    norm(ends[i]).clamp(-1, d - 1),
                )
            };
            let mut picks = Vec::new();
            let mut k = start;
            while (step > 0 && k < end) || (step < 0 && k > end) {
                picks.push(k);
                k += step;
            }
            let n = picks.len();
            x = x.gather(a as i64 + 1, &picks, &[n])?;
        }
        Ok(x)
    }
}

/// An elementwise operand's shape: a variable's non-batch axes, or a constant's full shape.
#[derive(Debug, Clone, Copy)]
pub(super) enum Operand<'a> {
    Var(&'a [usize]),
    Const(&'a [usize]),
}

/// Numpy broadcasting of elementwise operands whose variables all keep the batch first:
/// the output's non-batch dims and, per operand, the index of the cell (a variable's, or a
/// constant's value) each output cell reads.
pub(super) fn broadcast(operands: &[Operand]) -> Result<(Vec<usize>, Vec<Vec<usize>>), String> {
    let mut rank = None;
    for o in operands {
        if let Operand::Var(d) = o {
            match rank {
                None => rank = Some(d.len() + 1),
                Some(r) if r != d.len() + 1 => {
                    return Err(
                        "broadcasts inputs of different ranks: rows would meet columns".into(),
                    )
                }
                _ => {}
            }
        }
    }
    let rank = rank.ok_or("has no input derived from the rows")?;
    // Each operand as a full shape of `rank` axes (axis 0 a placeholder 1 for variables).
    let mut full = Vec::with_capacity(operands.len());
    for o in operands {
        match o {
            Operand::Var(d) => full.push([&[1][..], d].concat()),
            Operand::Const(d) => {
                if d.len() > rank {
                    return Err(format!(
                        "broadcasts a constant of {} axes onto rows of {rank} axes",
                        d.len()
                    ));
                }
                let mut f = vec![1; rank - d.len()];
                f.extend_from_slice(d);
                if f[0] != 1 {
                    return Err(format!(
                        "broadcasts a constant of shape {d:?} over the rows (axis 0)"
                    ));
                }
                full.push(f);
            }
        }
    }
    let mut dims = vec![1; rank - 1];
    for f in &full {
        for a in 1..rank {
            match (dims[a - 1], f[a]) {
                (_, 1) => {}
                (1, x) => dims[a - 1] = x,
                (x, y) if x == y => {}
                (x, y) => return Err(format!("cannot broadcast an axis of {x} with one of {y}")),
            }
        }
    }
    let n: usize = dims.iter().product();
    let maps = full
        .iter()
        .map(|f| {
            let s = strides(&f[1..]);
            (0..n)
                .map(|i| {
                    unravel(i, &dims)
                        .iter()
                        .enumerate()
                        .map(|(a, &x)| if f[a + 1] == 1 { 0 } else { x * s[a] })
                        .sum()
                })
                .collect()
        })
        .collect();
    Ok((dims, maps))
}

/// For a reduction over non-batch axes `over` of a tensor with non-batch `dims`: the output
/// dims and, per output cell, the input cells it reads.
pub(super) fn reduce(
    dims: &[usize],
    over: &BTreeSet<usize>,
    keepdims: bool,
) -> (Vec<usize>, Vec<Vec<usize>>) {
    let kept: Vec<usize> = dims
        .iter()
        .enumerate()
        .map(|(a, &d)| if over.contains(&a) { 1 } else { d })
        .collect();
    let n: usize = kept.iter().product();
    let s = strides(&kept);
    let mut groups = vec![Vec::new(); n];
    for i in 0..dims.iter().product() {
        let at = unravel(i, dims);
        let o: usize = at
            .iter()
            .enumerate()
            .map(|(a, &x)| if over.contains(&a) { 0 } else { x * s[a] })
            .sum();
        groups[o].push(i);
    }
    let out = if keepdims {
        kept
    } else {
        (0..dims.len())
            .filter(|a| !over.contains(a))
            .map(|a| dims[a])
            .collect()
    };
    (out, groups)
}

// ---------------------------------------------------------------------------------------
// The lineage of every tensor on the way to the one asked about.

/// Several features met in one cell, first at node `node` (its graph index).
#[derive(Debug, PartialEq, Eq)]
struct Mix {
    node: usize,
    features: BTreeSet<usize>,
}

impl Mix {
    fn refusal(&self, index: &Index, schema: &FeatureSchema) -> Refusal {
        let names: Vec<String> = self
            .features
            .iter()
            .take(5)
            .map(|&f| format!("`{}`", schema.names()[f]))
            .collect();
        let more = if self.features.len() > 5 { ", ..." } else { "" };
        Refusal::at(
            &index.graph.node[self.node],
            format!(
                "mixes input features {}{more} into one column, so its contributions cannot \
                 be given to one feature",
                names.join(", ")
            ),
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Const,
    Feature(usize),
    Mixed(Rc<Mix>),
}

/// The cell derived from `cells` by node `at`: one feature (constants aside), or a mix.
fn combine<'c>(at: usize, cells: impl IntoIterator<Item = &'c Cell>) -> Cell {
    let mut features = BTreeSet::new();
    for c in cells {
        match c {
            Cell::Const => {}
            Cell::Feature(f) => {
                features.insert(*f);
            }
            // The first node that mixed is the one to name.
            Cell::Mixed(m) => return Cell::Mixed(m.clone()),
        }
    }
    match features.len() {
        0 => Cell::Const,
        1 => Cell::Feature(*features.first().expect("one")),
        _ => Cell::Mixed(Rc::new(Mix { node: at, features })),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Lin {
    /// Derived from no input; its full shape when known.
    Const(Option<Vec<usize>>),
    /// Per cell of the non-batch axes.
    Known(Laid<Cell>),
    /// Every cell alike, the shape not told by the graph.
    Uniform(Cell),
}

impl Lin {
    fn cells(&self) -> Vec<&Cell> {
        match self {
            Lin::Const(_) => vec![],
            Lin::Known(l) => l.cells.iter().collect(),
            Lin::Uniform(c) => vec![c],
        }
    }
}

/// Operators that act on each cell alone (their first input; any others are parameters).
#[rustfmt::skip]
const CELLWISE: &[&str] = &[
    "Identity", "Cast", "Abs", "Neg", "Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Sigmoid",
    "HardSigmoid", "HardSwish", "Tanh", "Sqrt", "Log", "Exp", "Reciprocal", "Floor", "Ceil",
    "Round", "Sign", "Not", "IsNaN", "IsInf", "Erf", "Softplus", "Softsign", "ThresholdedRelu",
    "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh",
    "Mish", "Gelu", "BitwiseNot", "Dropout", "Scaler", "Imputer", "Binarizer", "LabelEncoder",
    "CategoryMapper",
];

/// Elementwise operators over all their inputs, with numpy broadcasting.
#[rustfmt::skip]
const ELEMENTWISE: &[&str] = &[
    "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "Where", "And", "Or",
    "Xor", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "PRelu", "Clip",
    "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
];

#[rustfmt::skip]
const REDUCTIONS: &[&str] = &[
    "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
];

struct Tracer<'a, 'g> {
    index: &'a Index<'g>,
    schema: &'a FeatureSchema,
}

impl Tracer<'_, '_> {
    /// The lineage of `target`, from those of the tensors it is computed from (depth first,
    /// without recursion: a graph may be deep).
    fn trace(&self, target: &str) -> Result<Rc<Lin>, Refusal> {
        let mut memo: HashMap<String, Rc<Lin>> = HashMap::new();
        let mut open = HashSet::new();
        let mut stack = vec![(target.to_owned(), false)];
        while let Some((tensor, ready)) = stack.pop() {
            if memo.contains_key(&tensor) {
                continue;
            }
            if let Some(lin) = self.source(&tensor)? {
                memo.insert(tensor, Rc::new(lin));
                continue;
            }
            let (at, node) = self.index.writer(&tensor).ok_or_else(|| {
                Refusal::tensor(
                    &tensor,
                    "is neither a graph input, an initializer nor any node's output",
                )
            })?;
            let inputs = node.input.iter().filter(|i| !i.is_empty());
            if !ready {
                // Met again before it is done: it is computed from itself.
                if !open.insert(tensor.clone()) {
                    return Err(Refusal::at(node, "is part of a cycle in the graph"));
                }
                stack.push((tensor, true));
                stack.extend(
                    inputs
                        .filter(|i| !memo.contains_key(*i))
                        .map(|i| (i.clone(), false)),
                );
                continue;
            }
            let ins: Vec<Option<Rc<Lin>>> = node
                .input
                .iter()
                .map(|i| {
                    if i.is_empty() {
                        Ok(None)
                    } else {
                        memo.get(i)
                            .cloned()
                            .map(Some)
                            .ok_or_else(|| Refusal::at(node, "is part of a cycle in the graph"))
                    }
                })
                .collect::<Result<_, _>>()?;
            let outs = self
                .eval(at, node, &ins)
                .map_err(|e| self.rather_mix(&ins, e))?;
            for (name, lin) in node.output.iter().zip(outs) {
                if !name.is_empty() {
                    memo.insert(name.clone(), Rc::new(lin));
                }
            }
            if !memo.contains_key(&tensor) {
                return Err(Refusal::at(
                    node,
                    format!("gives no lineage for `{tensor}`"),
                ));
            }
        }
        Ok(memo.remove(target).expect("traced"))
    }

    /// The lineage of a graph input or initializer; `None` for a node's output.
    fn source(&self, tensor: &str) -> Result<Option<Lin>, Refusal> {
        if self.index.is_initializer(tensor) {
            return Ok(Some(Lin::Const(
                self.index.constant(tensor).map(|c| c.dims),
            )));
        }
        if !graph_inputs(self.index.graph)
            .iter()
            .any(|i| i.name == tensor)
        {
            return Ok(None);
        }
        let names = self.schema.names();
        let lin = match self.schema.layout() {
            InputLayout::Matrix if self.schema.input_names().iter().any(|i| i == tensor) => {
                Laid::new(
                    vec![names.len()],
                    (0..names.len()).map(Cell::Feature).collect(),
                )
            }
            InputLayout::PerFeature => match names.iter().position(|n| n == tensor) {
                Some(f) => Laid::new(vec![1], vec![Cell::Feature(f)]),
                None => {
                    return Err(Refusal::tensor(
                        tensor,
                        "is a graph input outside the feature schema",
                    ))
                }
            },
            InputLayout::Matrix => {
                return Err(Refusal::tensor(
                    tensor,
                    "is a graph input outside the feature schema",
                ))
            }
        };
        Ok(Some(Lin::Known(lin)))
    }

    /// One node's outputs' lineages from its inputs'.
    fn eval(
        &self,
        at: usize,
        node: &NodeProto,
        ins: &[Option<Rc<Lin>>],
    ) -> Result<Vec<Lin>, Refusal> {
        let op = node.op_type.as_str();
        let refuse = |why: String| Refusal::at(node, why);
        let n_out = node.output.len();
        let present: Vec<(usize, &Rc<Lin>)> = ins
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.as_ref().map(|l| (i, l)))
            .collect();
        if !matches!(node.domain.as_str(), "" | "ai.onnx" | "ai.onnx.ml") {
            return Err(refuse(format!(
                "is an operator of domain `{}`, which the lineage does not know",
                node.domain
            )));
        }
        // Derived from constants alone: a constant (its shape kept by cellwise ops).
        if present.iter().all(|(_, l)| matches!(***l, Lin::Const(_))) {
            let first = match present.first().map(|(_, l)| &***l) {
                Some(Lin::Const(Some(d))) => Some(d.as_slice()),
                _ => None,
            };
            return Ok(node
                .output
                .iter()
                .map(|o| {
                    let dims = match self.index.constant(o) {
                        Some(c) => Some(c.dims),
                        None if CELLWISE.contains(&op) || op == "CastLike" => {
                            first.map(<[usize]>::to_vec)
                        }
                        None => first.and_then(|d| self.constant_shape(node, d)),
                    };
                    Lin::Const(dims)
                })
                .collect());
        }
        let x = ins.first().and_then(Option::as_ref);
        let input = |i: usize| node.input.get(i).map(String::as_str).unwrap_or("");
        // The first input, with its shape known.
        let known = || -> Result<Laid<Cell>, Refusal> { self.known(node, 0, x) };
        let relaid =
            |f: &dyn Fn(Laid<Cell>) -> Result<Laid<Cell>, String>| -> Result<Vec<Lin>, Refusal> {
                match x.map(|l| &**l) {
                    Some(Lin::Uniform(c)) => Ok(vec![Lin::Uniform(c.clone())]),
                    _ => Ok(vec![Lin::Known(f(known()?).map_err(&refuse)?)]),
                }
            };
        match op {
            "CastLike" => Ok(vec![(**x.expect("not all constant")).clone()]),
            _ if CELLWISE.contains(&op) => {
                if let Some((i, _)) = present
                    .iter()
                    .skip(1)
                    .find(|(_, l)| !matches!(***l, Lin::Const(_)))
                {
                    return Err(refuse(format!(
                        "takes its parameter `{}` from the input rows, not a constant",
                        input(*i)
                    )));
                }
                let x = x.expect("not all constant");
                Ok(vec![(**x).clone(); n_out])
            }
            _ if ELEMENTWISE.contains(&op) => self.elementwise(at, node, &present).map(|l| vec![l]),
            "OneHotEncoder" => {
                let cats = ["cats_strings", "cats_int64s"]
                    .iter()
                    .filter_map(|n| attr(node, n))
                    .map(|a| a.strings.len().max(a.ints.len()))
                    .max()
                    .filter(|&c| c > 0)
                    .ok_or_else(|| refuse("names no categories".into()))?;
                match &**x.expect("not all constant") {
                    Lin::Uniform(c) => Ok(vec![Lin::Uniform(c.clone())]),
                    _ => {
                        let l = known()?;
                        let mut dims = l.dims.clone();
                        dims.push(cats);
                        let cells = l
                            .cells
                            .iter()
                            .flat_map(|c| std::iter::repeat_n(c.clone(), cats))
                            .collect();
                        Ok(vec![Lin::Known(Laid::new(dims, cells))])
                    }
                }
            }
            "Concat" => {
                let axis = attr_i(node, "axis").ok_or_else(|| refuse("has no axis".into()))?;
                let parts = (0..ins.len())
                    .filter(|&i| ins[i].is_some())
                    .map(|i| self.known(node, i, ins[i].as_ref()))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(vec![Lin::Known(Laid::concat(parts, axis).map_err(refuse)?)])
            }
            "FeatureVectorizer" => {
                let widths = attr_ints(node, "inputdimensions").unwrap_or(&[]);
                if widths.len() != ins.len() || widths.iter().any(|&w| w <= 0) {
                    return Err(refuse(
                        "has no positive inputdimensions for each input".into(),
                    ));
                }
                let mut cells = Vec::new();
                for (i, &w) in widths.iter().enumerate() {
                    let w = w as usize;
                    match ins[i].as_deref() {
                        Some(Lin::Uniform(Cell::Mixed(m))) => {
                            return Err(m.refusal(self.index, self.schema))
                        }
                        Some(Lin::Uniform(c)) => cells.extend(std::iter::repeat_n(c.clone(), w)),
                        _ => {
                            let l = self.known(node, i, ins[i].as_ref())?;
                            if l.cells.len() != w {
                                return Err(refuse(format!(
                                    "says input `{}` has {w} columns; it has {}",
                                    input(i),
                                    l.cells.len()
                                )));
                            }
                            cells.extend(l.cells);
                        }
                    }
                }
                Ok(vec![Lin::Known(Laid::new(vec![cells.len()], cells))])
            }
            "Reshape" => {
                let (_, shape) = const_ints(self.index, node, input(1))?;
                let allowzero = attr_i(node, "allowzero").unwrap_or(0) != 0;
                if let Some(Lin::Uniform(c)) = x.map(|l| &**l) {
                    // The row's shape is the tail of `shape` when nothing there is inferred.
                    if shape.first() == Some(&-1) && shape[1..].iter().all(|&s| s > 0) {
                        let dims = shape[1..].iter().map(|&s| s as usize).collect();
                        return Ok(vec![Lin::Known(Laid::filled(dims, c.clone()))]);
                    }
                }
                relaid(&|l| l.reshape(&shape, allowzero))
            }
            "Flatten" => relaid(&|l| l.flatten(attr_i(node, "axis").unwrap_or(1))),
            "Squeeze" => {
                let axes = axes(self.index, node, 1)?;
                relaid(&|l| l.squeeze(axes.as_deref()))
            }
            "Unsqueeze" => {
                let axes =
                    axes(self.index, node, 1)?.ok_or_else(|| refuse("has no axes".into()))?;
                relaid(&|l| l.unsqueeze(&axes))
            }
            "Transpose" => relaid(&|l| l.transpose(attr_ints(node, "perm"))),
            "ArrayFeatureExtractor" => {
                let (_, idx) = const_ints(self.index, node, input(1))?;
                relaid(&|l| l.extract(&idx))
            }
            "Gather" => {
                let (idx_dims, idx) = const_ints(self.index, node, input(1))?;
                let axis = attr_i(node, "axis").unwrap_or(0);
                relaid(&|l| l.gather(axis, &idx, &idx_dims))
            }
            "Slice" => {
                let a = slice_args(self.index, node)?;
                relaid(&|l| l.slice(&a.starts, &a.ends, a.axes.as_deref(), a.steps.as_deref()))
            }
            "Split" => match x.map(|l| &**l) {
                Some(Lin::Uniform(c)) => Ok(vec![Lin::Uniform(c.clone()); n_out]),
                _ => Ok(split(self.index, node, known()?)?
                    .into_iter()
                    .map(Lin::Known)
                    .collect()),
            },
            "Expand" => {
                let (_, shape) = const_ints(self.index, node, input(1))?;
                if shape.iter().any(|&d| d < 1) {
                    return Err(refuse(format!(
                        "expands to a shape it cannot read: {shape:?}"
                    )));
                }
                let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
                let x = known()?;
                let (dims, maps) =
                    broadcast(&[Operand::Var(&x.dims), Operand::Const(&shape)]).map_err(refuse)?;
                let cells = maps[0].iter().map(|&i| x.cells[i].clone()).collect();
                Ok(vec![Lin::Known(Laid::new(dims, cells))])
            }
            "Tile" => {
                let (_, repeats) = const_ints(self.index, node, input(1))?;
                relaid(&|l| l.tile(&repeats))
            }
            "OneHot" => {
                // Standard OneHot: a new axis of `depth` at `axis`, each cell from its index.
                let (_, depth) = const_ints(self.index, node, input(1))?;
                let depth = match depth.as_slice() {
                    [d] if *d > 0 => *d as usize,
                    _ => return Err(refuse(format!("has a depth it cannot read: {depth:?}"))),
                };
                let axis = attr_i(node, "axis").unwrap_or(-1);
                relaid(&|l| {
                    l.unsqueeze(&[axis])?
                        .gather(axis, &vec![0; depth], &[depth])
                })
            }
            "Shape" => Ok(vec![Lin::Const(Some(vec![known()?.dims.len() + 1]))]),
            "Size" => Ok(vec![Lin::Const(Some(vec![]))]),
            _ if REDUCTIONS.contains(&op) || op == "ArgMax" || op == "ArgMin" => {
                let keepdims = attr_i(node, "keepdims").unwrap_or(1) != 0;
                let axes: Vec<i64> = if op.starts_with("Arg") {
                    vec![attr_i(node, "axis").unwrap_or(0)]
                } else {
                    match axes(self.index, node, 1)? {
                        Some(a) if !a.is_empty() => a,
                        _ if attr_i(node, "noop_with_empty_axes").unwrap_or(0) != 0 => {
                            return Ok(vec![(**x.expect("not all constant")).clone()])
                        }
                        _ => vec![0],
                    }
                };
                let l = match x.map(|l| &**l) {
                    Some(Lin::Uniform(c)) => {
                        // Only the batch axis matters here; the cells are alike anyway.
                        if axes.contains(&0) {
                            return Err(refuse(
                                "reduces over the batch axis (axis 0, the rows)".into(),
                            ));
                        }
                        return Ok(vec![Lin::Uniform(c.clone())]);
                    }
                    _ => known()?,
                };
                let over: BTreeSet<usize> = axes
                    .iter()
                    .map(|&a| non_batch_axis(a, l.rank(), "reduces"))
                    .collect::<Result<_, _>>()
                    .map_err(refuse)?;
                let (dims, groups) = reduce(&l.dims, &over, keepdims);
                let cells = groups
                    .iter()
                    .map(|g| combine(at, g.iter().map(|&i| &l.cells[i])))
                    .collect();
                Ok(vec![Lin::Known(Laid::new(dims, cells))])
            }
            "MatMul" | "Gemm" => self.matmul(at, node, ins).map(|l| vec![l]),
            // Each output cell is computed from the whole row.
            "Normalizer"
            | "Softmax"
            | "LogSoftmax"
            | "Hardmax"
            | "LpNormalization"
            | "LinearRegressor"
            | "LinearClassifier"
            | "SVMRegressor"
            | "SVMClassifier"
            | "TreeEnsembleRegressor"
            | "TreeEnsembleClassifier"
            | "TreeEnsemble" => {
                let cell = combine(at, present.iter().flat_map(|(_, l)| l.cells()));
                let same = match x.map(|l| &**l) {
                    Some(Lin::Known(l)) => Some(l.dims.clone()),
                    _ => None,
                };
                let classes = class_count(node);
                let widths: Vec<Option<Vec<usize>>> = match op {
                    "LinearRegressor" => {
                        vec![Some(vec![attr_i(node, "targets").unwrap_or(1) as usize])]
                    }
                    "TreeEnsembleRegressor" | "TreeEnsemble" => {
                        vec![n_targets(node).map(|t| vec![t])]
                    }
                    "SVMRegressor" => vec![Some(vec![1])],
                    "LinearClassifier" | "SVMClassifier" | "TreeEnsembleClassifier" => {
                        vec![Some(vec![]), classes.map(|c| vec![c])]
                    }
                    _ => vec![same],
                };
                Ok((0..n_out)
                    .map(|o| match widths.get(o).cloned().flatten() {
                        Some(dims) => Lin::Known(Laid::filled(dims, cell.clone())),
                        None => Lin::Uniform(cell.clone()),
                    })
                    .collect())
            }
            _ => Err(refuse(
                "is an operator the lineage does not know: which input features its columns \
                 derive from cannot be told"
                    .into(),
            )),
        }
    }

    /// The full shape a re-layout of a constant of shape `dims` gives, when the graph tells.
    fn constant_shape(&self, node: &NodeProto, dims: &[usize]) -> Option<Vec<usize>> {
        let norm =
            |a: i64, rank: usize| usize::try_from(if a < 0 { a + rank as i64 } else { a }).ok();
        match node.op_type.as_str() {
            "Unsqueeze" => {
                let axes = axes(self.index, node, 1).ok()??;
                let rank = dims.len() + axes.len();
                let at: BTreeSet<usize> =
                    axes.iter().map(|&a| norm(a, rank)).collect::<Option<_>>()?;
                let mut old = dims.iter();
                (0..rank)
                    .map(|a| {
                        if at.contains(&a) {
                            Some(1)
                        } else {
                            old.next().copied()
                        }
                    })
                    .collect()
            }
            "Squeeze" => {
                let axes = axes(self.index, node, 1).ok()?;
                let drop: BTreeSet<usize> = match axes {
                    None => (0..dims.len()).filter(|&a| dims[a] == 1).collect(),
                    Some(axes) => axes
                        .iter()
                        .map(|&a| norm(a, dims.len()))
                        .collect::<Option<_>>()?,
                };
                Some(
                    (0..dims.len())
                        .filter(|a| !drop.contains(a))
                        .map(|a| dims[a])
                        .collect(),
                )
            }
            "Flatten" => {
                let a = norm(attr_i(node, "axis").unwrap_or(1), dims.len())
                    .filter(|&a| a <= dims.len())?;
                Some(vec![dims[..a].iter().product(), dims[a..].iter().product()])
            }
            "Reshape" => {
                let (_, shape) = const_ints(self.index, node, node.input.get(1)?).ok()?;
                let total: usize = dims.iter().product();
                let mut out: Vec<usize> = Vec::with_capacity(shape.len());
                let mut infer = None;
                for (i, &s) in shape.iter().enumerate() {
                    match s {
                        0 => out.push(*dims.get(i)?),
                        -1 if infer.is_none() => {
                            infer = Some(i);
                            out.push(1);
                        }
                        s if s > 0 => out.push(s as usize),
                        _ => return None,
                    }
                }
                if let Some(i) = infer {
                    let rest: usize = out.iter().product();
                    out[i] = total.checked_div(rest)?;
                }
                (out.iter().product::<usize>() == total).then_some(out)
            }
            _ => None,
        }
    }

    /// A refusal at a node whose inputs already mix features: the mix is the reason to
    /// give (it is what an explanation could not get past anyway).
    fn rather_mix(&self, ins: &[Option<Rc<Lin>>], refusal: Refusal) -> Refusal {
        let mixed = ins
            .iter()
            .flatten()
            .flat_map(|l| l.cells())
            .find_map(|c| match c {
                Cell::Mixed(m) => Some(m.clone()),
                _ => None,
            });
        match mixed {
            Some(m) => m.refusal(self.index, self.schema),
            None => refusal,
        }
    }

    /// Input `i` of `node` as cells over known dims (a refusal says why it cannot be).
    fn known(
        &self,
        node: &NodeProto,
        i: usize,
        lin: Option<&Rc<Lin>>,
    ) -> Result<Laid<Cell>, Refusal> {
        let name = node.input.get(i).map(String::as_str).unwrap_or("");
        match lin.map(|l| &**l) {
            Some(Lin::Known(l)) => Ok(l.clone()),
            Some(Lin::Uniform(Cell::Mixed(m))) => Err(m.refusal(self.index, self.schema)),
            Some(Lin::Uniform(_)) => Err(Refusal::at(
                node,
                format!("reads `{name}`, whose shape cannot be told from the graph"),
            )),
            Some(Lin::Const(_)) => Err(Refusal::at(
                node,
                format!("reads constant `{name}` where it expects a tensor of rows"),
            )),
            None => Err(Refusal::at(node, format!("has no input {i}"))),
        }
    }

    fn elementwise(
        &self,
        at: usize,
        node: &NodeProto,
        present: &[(usize, &Rc<Lin>)],
    ) -> Result<Lin, Refusal> {
        if present.iter().any(|(_, l)| matches!(***l, Lin::Uniform(_))) {
            let cell = combine(at, present.iter().flat_map(|(_, l)| l.cells()));
            return Ok(Lin::Uniform(cell));
        }
        let mut operands = Vec::with_capacity(present.len());
        for (i, l) in present {
            operands.push(match &***l {
                Lin::Known(l) => Operand::Var(&l.dims),
                Lin::Const(Some(d)) => Operand::Const(d),
                Lin::Const(None) => {
                    return Err(Refusal::at(
                        node,
                        format!(
                        "reads constant `{}`, whose shape (so how it broadcasts) cannot be told",
                        node.input[*i]
                    ),
                    ))
                }
                Lin::Uniform(_) => unreachable!("handled above"),
            });
        }
        let (dims, maps) = broadcast(&operands).map_err(|e| Refusal::at(node, e))?;
        let n: usize = dims.iter().product();
        // x × 0 is 0 whatever x (KBinsDiscretizer builds a constant column so from its
        // input): every value the model takes is finite there, since a NaN is refused at
        // the input unless an imputer replaces it, and JSON has no infinity.
        let zeros: Vec<Option<Vec<f64>>> = present
            .iter()
            .map(|(i, l)| match &***l {
                Lin::Const(_) if node.op_type == "Mul" => self
                    .index
                    .constant(&node.input[*i])
                    .and_then(|c| c.floats()),
                _ => None,
            })
            .collect();
        let cells = (0..n)
            .map(|j| {
                let by_zero = zeros
                    .iter()
                    .zip(&maps)
                    .any(|(z, m)| z.as_ref().is_some_and(|z| z[m[j]] == 0.0));
                if by_zero {
                    return Cell::Const;
                }
                combine(
                    at,
                    present
                        .iter()
                        .zip(&maps)
                        .filter_map(|((_, l), m)| match &***l {
                            Lin::Known(l) => Some(&l.cells[m[j]]),
                            _ => None,
                        }),
                )
            })
            .collect();
        Ok(Lin::Known(Laid::new(dims, cells)))
    }

    /// `MatMul` / `Gemm` of rows by a constant matrix: each output column from the input
    /// columns its weights do not zero. Anything else mixes the whole row.
    fn matmul(&self, at: usize, node: &NodeProto, ins: &[Option<Rc<Lin>>]) -> Result<Lin, Refusal> {
        let all = || Lin::Uniform(combine(at, ins.iter().flatten().flat_map(|l| l.cells())));
        let gemm = node.op_type == "Gemm";
        let (Some(a), Some(b)) = (
            ins.first().and_then(Option::as_ref),
            ins.get(1).and_then(Option::as_ref),
        ) else {
            return Ok(all());
        };
        let (Lin::Known(a), Lin::Const(_)) = (&**a, &**b) else {
            return Ok(all());
        };
        if gemm && (attr_i(node, "transA").unwrap_or(0) != 0 || a.dims.len() != 1) {
            return Ok(all());
        }
        if let Some(c) = ins.get(2).and_then(Option::as_ref) {
            if !matches!(**c, Lin::Const(_)) {
                return Ok(all());
            }
        }
        let Some(w) = self
            .index
            .constant(&node.input[1])
            .filter(|c| c.dims.len() == 2)
        else {
            return Ok(all());
        };
        let trans_b = gemm && attr_i(node, "transB").unwrap_or(0) != 0;
        let (k, m) = if trans_b {
            (w.dims[1], w.dims[0])
        } else {
            (w.dims[0], w.dims[1])
        };
        if a.dims.last() != Some(&k) {
            return Err(Refusal::at(
                node,
                format!("multiplies rows of {:?} by a {k}×{m} matrix", a.dims),
            ));
        }
        let values = w.floats();
        let nonzero = |r: usize, c: usize| {
            values
                .as_ref()
                .is_none_or(|v| v[if trans_b { c * k + r } else { r * m + c }] != 0.0)
        };
        let mut dims = a.dims.clone();
        *dims.last_mut().expect("k") = m;
        let outer = a.cells.len() / k.max(1);
        let mut cells = Vec::with_capacity(outer * m);
        for o in 0..outer {
            for c in 0..m {
                cells.push(combine(
                    at,
                    (0..k)
                        .filter(|&r| nonzero(r, c))
                        .map(|r| &a.cells[o * k + r]),
                ));
            }
        }
        Ok(Lin::Known(Laid::new(dims, cells)))
    }
}

/// ONNX `Split` of `x` by `node`: sizes from attribute `split` (older opsets), constant
/// input 1 (newer), else equal parts (the last one smaller, as opset 18's `num_outputs`).
pub(super) fn split<T: Clone>(
    index: &Index,
    node: &NodeProto,
    x: Laid<T>,
) -> Result<Vec<Laid<T>>, Refusal> {
    let axis = attr_i(node, "axis").unwrap_or(0);
    let refuse = |e: String| Refusal::at(node, e);
    let rank = x.dims.len() + 1;
    let dim = x.dims[non_batch_axis(axis, rank, "splits").map_err(refuse)?];
    let sizes: Vec<i64> = match (
        attr_ints(node, "split"),
        node.input.get(1).filter(|i| !i.is_empty()),
    ) {
        (Some(s), _) => s.to_vec(),
        (None, Some(t)) => const_ints(index, node, t)?.1,
        (None, None) => {
            let n = attr_i(node, "num_outputs").map_or(node.output.len(), |n| n.max(1) as usize);
            let chunk = dim.div_ceil(n.max(1));
            let mut sizes = vec![chunk as i64; n.saturating_sub(1)];
            sizes.push(dim as i64 - (chunk * n.saturating_sub(1)) as i64);
            sizes
        }
    };
    if sizes.iter().any(|&s| s < 0) || sizes.len() != node.output.len() {
        return Err(refuse(format!(
            "splits into parts {sizes:?} for {} outputs",
            node.output.len()
        )));
    }
    let sizes: Vec<usize> = sizes.iter().map(|&s| s as usize).collect();
    x.split(axis, &sizes).map_err(refuse)
}

/// How many targets a regressor op writes: `n_targets`, else one more than its largest
/// `target_ids`.
pub(super) fn n_targets(node: &NodeProto) -> Option<usize> {
    attr_i(node, "n_targets")
        .or_else(|| attr_ints(node, "target_ids")?.iter().max().map(|m| m + 1))
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n > 0)
}

/// A `Slice`'s constant arguments.
pub(super) struct SliceArgs {
    pub starts: Vec<i64>,
    pub ends: Vec<i64>,
    pub axes: Option<Vec<i64>>,
    pub steps: Option<Vec<i64>>,
}

/// A `Slice`'s starts, ends, axes and steps: inputs 1-4 (opset 10+) or attributes (opset 1).
pub(super) fn slice_args(index: &Index, node: &NodeProto) -> Result<SliceArgs, Refusal> {
    if let (Some(s), Some(e)) = (attr_ints(node, "starts"), attr_ints(node, "ends")) {
        return Ok(SliceArgs {
            starts: s.to_vec(),
            ends: e.to_vec(),
            axes: attr_ints(node, "axes").map(<[i64]>::to_vec),
            steps: None,
        });
    }
    let get = |i: usize| -> Result<Option<Vec<i64>>, Refusal> {
        match node.input.get(i).filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(t) => const_ints(index, node, t).map(|(_, v)| Some(v)),
        }
    };
    let starts = get(1)?.ok_or_else(|| Refusal::at(node, "has no starts"))?;
    let ends = get(2)?.ok_or_else(|| Refusal::at(node, "has no ends"))?;
    let axes = get(3)?;
    let steps = get(4)?;
    let n = starts.len();
    if ends.len() != n
        || axes.as_ref().is_some_and(|a| a.len() != n)
        || steps.as_ref().is_some_and(|s| s.len() != n)
    {
        return Err(Refusal::at(
            node,
            "has starts, ends, axes and steps of different lengths",
        ));
    }
    Ok(SliceArgs {
        starts,
        ends,
        axes,
        steps,
    })
}

/// Graphs built in Rust for the tests of `lineage` and `combination`.
#[cfg(test)]
pub(super) mod build {
    use tract_onnx::pb::{
        attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto::dimension,
        tensor_shape_proto::Dimension, type_proto, AttributeProto, GraphProto, ModelProto,
        NodeProto, StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto,
        ValueInfoProto,
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
    pub fn tree_classifier(
        name: &str,
        x: &str,
        outs: [&str; 2],
        post_transform: &str,
    ) -> NodeProto {
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
}

#[cfg(test)]
mod tests {
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
            let ops = g.node.iter().filter(|n| {
                n.op_type.starts_with("TreeEnsemble") || n.op_type.starts_with("Linear")
            });
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
}
