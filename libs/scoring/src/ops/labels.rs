//! Class labels of the ONNX-ML classifiers (`classlabels_int64s`/`classlabels_ints` or
//! `classlabels_strings`) and the label tensor built from per-row choices.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClassLabels {
    Ints(Vec<i64>),
    Strings(Vec<String>),
}

/// What a row's label is, before it becomes a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// The label of class `k`.
    Class(usize),
    /// onnxruntime's fallback for a two-class model that is not "binary": the literal
    /// 1 or 0 for integer labels (whatever the labels are), strings[1] or strings[0].
    Literal(bool),
}

impl ClassLabels {
    /// Reads labels from `ints_attr` or `classlabels_strings`; exactly one must be set.
    pub fn read(node: &NodeProto, op: &str, ints_attr: &str) -> TractResult<ClassLabels> {
        let ints: Option<Vec<i64>> = node.get_attr_opt_vec(ints_attr)?;
        let strings: Option<Vec<String>> = node.get_attr_opt_vec("classlabels_strings")?;
        Ok(match (ints, strings) {
            (Some(i), None) if !i.is_empty() => ClassLabels::Ints(i),
            (None, Some(s)) if !s.is_empty() => ClassLabels::Strings(s),
            (Some(_), Some(_)) => bail!("{op}: both {ints_attr} and classlabels_strings are set"),
            _ => bail!("{op}: needs {ints_attr} or classlabels_strings"),
        })
    }

    pub fn len(&self) -> usize {
        match self {
            ClassLabels::Ints(v) => v.len(),
            ClassLabels::Strings(v) => v.len(),
        }
    }

    pub fn datum_type(&self) -> DatumType {
        match self {
            ClassLabels::Ints(_) => DatumType::I64,
            ClassLabels::Strings(_) => DatumType::String,
        }
    }

    /// The `[N]` label tensor. Choices are validated against `len()` when built.
    pub fn tensor(&self, choices: &[Choice]) -> TractResult<Tensor> {
        let index = |c: Choice| match c {
            Choice::Class(k) => k,
            Choice::Literal(b) => b as usize,
        };
        match self {
            ClassLabels::Ints(labels) => {
                let v: Vec<i64> = choices
                    .iter()
                    .map(|&c| match c {
                        Choice::Class(k) => labels[k],
                        Choice::Literal(b) => b as i64,
                    })
                    .collect();
                Tensor::from_shape(&[v.len()], &v)
            }
            ClassLabels::Strings(labels) => {
                let v: Vec<String> = choices.iter().map(|&c| labels[index(c)].clone()).collect();
                Ok(tract_ndarray::Array1::from_vec(v).into_tensor())
            }
        }
    }
}
