//! A batch of validated rows, held as the model's input columns with their own types, so
//! scoring builds each input tensor with one copy.

use std::ops::Range;

use tract_onnx::prelude::{tract_ndarray, Tensor, TractResult};

use crate::error::RowProblem;
use crate::feature::{Feature, FeatureType, InputLayout, MISSING_TEXT};
use crate::row::FeatureValue;

/// One model input's values for every row of the batch (row-major for a matrix input).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Column {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    Text(Vec<String>),
}

impl Column {
    fn new(ty: FeatureType, capacity: usize) -> Column {
        match ty {
            FeatureType::Float => Column::F32(Vec::with_capacity(capacity)),
            FeatureType::Double => Column::F64(Vec::with_capacity(capacity)),
            FeatureType::Int64 => Column::I64(Vec::with_capacity(capacity)),
            FeatureType::String => Column::Text(Vec::with_capacity(capacity)),
        }
    }

    fn len(&self) -> usize {
        match self {
            Column::F32(v) => v.len(),
            Column::F64(v) => v.len(),
            Column::I64(v) => v.len(),
            Column::Text(v) => v.len(),
        }
    }

    fn truncate(&mut self, n: usize) {
        match self {
            Column::F32(v) => v.truncate(n),
            Column::F64(v) => v.truncate(n),
            Column::I64(v) => v.truncate(n),
            Column::Text(v) => v.truncate(n),
        }
    }
}

/// One value of a batch, in the type the model reads it as: a missing number is NaN, a
/// missing category [`MISSING_TEXT`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BatchValue<'a> {
    F32(f32),
    F64(f64),
    I64(i64),
    Text(&'a str),
}

/// Rows read through [`FeatureSchema::read_row`], ready for [`crate::Model::predict`].
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// One per model input: a single matrix, or one per feature in schema order.
    pub(crate) columns: Vec<Column>,
    /// Values per row in each column: the feature count for a matrix, else 1.
    pub(crate) width: usize,
    rows: usize,
}

/// Where a batch stood before a row, to take the row back if one of its values is bad.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark(usize);

impl Batch {
    pub(crate) fn new(layout: InputLayout, features: &[Feature], rows: usize) -> Batch {
        match layout {
            InputLayout::Matrix => {
                let ty = features.first().map_or(FeatureType::Float, |f| f.ty);
                Batch {
                    columns: vec![Column::new(ty, rows * features.len())],
                    width: features.len(),
                    rows: 0,
                }
            }
            InputLayout::PerFeature => Batch {
                columns: features.iter().map(|f| Column::new(f.ty, rows)).collect(),
                width: 1,
                rows: 0,
            },
        }
    }

    /// Rows in the batch.
    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Empties the batch, keeping its memory.
    pub fn clear(&mut self) {
        self.columns.iter_mut().for_each(|c| c.truncate(0));
        self.rows = 0;
    }

    /// Row `row`'s value of feature `feature` (schema order) as the model reads it; `None`
    /// outside the batch.
    pub fn value(&self, row: usize, feature: usize) -> Option<BatchValue<'_>> {
        if row >= self.rows {
            return None;
        }
        let (column, at) = if self.width == 1 {
            (self.columns.get(feature)?, row)
        } else if feature < self.width {
            (&self.columns[0], row * self.width + feature)
        } else {
            return None;
        };
        Some(match column {
            Column::F32(v) => BatchValue::F32(v[at]),
            Column::F64(v) => BatchValue::F64(v[at]),
            Column::I64(v) => BatchValue::I64(v[at]),
            Column::Text(v) => BatchValue::Text(&v[at]),
        })
    }

    pub(crate) fn mark(&self) -> Mark {
        Mark(self.rows)
    }

    pub(crate) fn rewind(&mut self, mark: Mark) {
        let keep = mark.0 * self.width;
        self.columns.iter_mut().for_each(|c| c.truncate(keep));
        self.rows = mark.0;
    }

    pub(crate) fn end_row(&mut self) {
        self.rows += 1;
        debug_assert!(self
            .columns
            .iter()
            .all(|c| c.len() == self.rows * self.width));
    }

    /// Appends feature `index`'s value for the row being read.
    pub(crate) fn push(
        &mut self,
        index: usize,
        feature: &Feature,
        value: FeatureValue<'_>,
    ) -> Result<(), RowProblem> {
        let column = if self.width == 1 {
            &mut self.columns[index]
        } else {
            &mut self.columns[0]
        };
        match (column, value) {
            (column, FeatureValue::Null) if !feature.accepts_missing => {
                let _ = column;
                Err(RowProblem::MissingNotHandled)
            }
            (Column::F32(v), FeatureValue::Null) => {
                v.push(f32::NAN);
                Ok(())
            }
            (Column::F64(v), FeatureValue::Null) => {
                v.push(f64::NAN);
                Ok(())
            }
            (Column::Text(v), FeatureValue::Null) => {
                v.push(MISSING_TEXT.to_owned());
                Ok(())
            }
            (Column::I64(_), FeatureValue::Null) => Err(RowProblem::MissingNotHandled),
            (Column::F32(v), FeatureValue::Number(x)) => {
                // Out-of-range values overflow to infinity in f32: refused like NaN.
                let input = x as f32;
                if input.is_finite() {
                    {
                        v.push(input);
                        Ok(())
                    }
                } else {
                    Err(RowProblem::NotFinite { value: x })
                }
            }
            (Column::F64(v), FeatureValue::Number(x)) => {
                if x.is_finite() {
                    {
                        v.push(x);
                        Ok(())
                    }
                } else {
                    Err(RowProblem::NotFinite { value: x })
                }
            }
            (Column::I64(v), FeatureValue::Number(x)) => {
                // 2^63 is exactly representable; anything from it up does not fit.
                if x.fract() == 0.0 && x >= -(2f64.powi(63)) && x < 2f64.powi(63) {
                    {
                        v.push(x as i64);
                        Ok(())
                    }
                } else {
                    Err(RowProblem::NotInteger { value: x })
                }
            }
            (Column::Text(v), FeatureValue::Text(s)) => {
                v.push(s.to_owned());
                Ok(())
            }
            (Column::Text(_), FeatureValue::Number(_)) => Err(RowProblem::NotText {
                found: "a number".into(),
            }),
            (Column::Text(_), FeatureValue::Other(kind)) => {
                Err(RowProblem::NotText { found: kind.into() })
            }
            (_, FeatureValue::Text(_)) => Err(RowProblem::NotNumeric {
                found: "a string".into(),
            }),
            (_, FeatureValue::Other(kind)) => Err(RowProblem::NotNumeric { found: kind.into() }),
        }
    }

    /// Appends a row-major matrix of numbers, one per feature in schema order, as they
    /// come (NaN included): for benchmarks and fixtures of numeric models.
    #[cfg(any(test, feature = "test-support"))]
    pub(crate) fn extend_numeric(&mut self, x: &[f32]) -> Result<(), &'static str> {
        let features = if self.width == 1 {
            self.columns.len()
        } else {
            self.width
        };
        for row in x.chunks_exact(features) {
            for (i, &v) in row.iter().enumerate() {
                let column = if self.width == 1 {
                    &mut self.columns[i]
                } else {
                    &mut self.columns[0]
                };
                match column {
                    Column::F32(c) => c.push(v),
                    Column::F64(c) => c.push(f64::from(v)),
                    Column::I64(c) => c.push(v as i64),
                    Column::Text(_) => return Err("the model has categorical features"),
                }
            }
            self.rows += 1;
        }
        Ok(())
    }

    /// Rows `rows` of column `column` as a `[rows, width]` tensor.
    pub(crate) fn tensor(&self, column: usize, rows: Range<usize>) -> TractResult<Tensor> {
        let w = self.width;
        let shape = (rows.len(), w);
        let span = rows.start * w..rows.end * w;
        Ok(match &self.columns[column] {
            Column::F32(v) => Tensor::from_shape(&[shape.0, shape.1], &v[span])?,
            Column::F64(v) => Tensor::from_shape(&[shape.0, shape.1], &v[span])?,
            Column::I64(v) => Tensor::from_shape(&[shape.0, shape.1], &v[span])?,
            Column::Text(v) => {
                tract_ndarray::Array2::from_shape_vec(shape, v[span].to_vec())?.into()
            }
        })
    }
}
