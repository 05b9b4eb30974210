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
pub(super) mod build;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod tests;
