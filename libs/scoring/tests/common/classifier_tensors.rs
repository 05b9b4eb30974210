//! Generic tensor fixtures: `tests/fixtures/ops/<name>.onnx` plus `<name>.json` holding
//! named inputs and onnxruntime's named outputs, each
//! `{"type": "float32"|"float64"|"int64"|"string", "shape": [..], "data": [flat]}`
//! (NaN written as null). Written by the model/ fixture scripts.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;
use tract_onnx::prelude::*;

#[derive(Debug, Deserialize)]
pub struct TensorData {
    #[serde(rename = "type")]
    pub dtype: String,
    pub shape: Vec<usize>,
    pub data: Vec<Value>,
}

#[derive(Debug, Deserialize)]
pub struct TensorFixture {
    #[serde(skip)]
    pub name: String,
    pub inputs: BTreeMap<String, TensorData>,
    pub outputs: BTreeMap<String, TensorData>,
}

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ops")
}

pub fn load(name: &str) -> TensorFixture {
    let path = dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut f: TensorFixture =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    f.name = name.to_string();
    f
}

impl TensorFixture {
    pub fn model_bytes(&self) -> Vec<u8> {
        let path = dir().join(format!("{}.onnx", self.name));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"))
    }
}

fn float(v: &Value) -> f64 {
    match v {
        Value::Null => f64::NAN,
        v => v.as_f64().unwrap_or_else(|| panic!("not a number: {v}")),
    }
}

impl TensorData {
    pub fn datum_type(&self) -> DatumType {
        match self.dtype.as_str() {
            "float32" => f32::datum_type(),
            "float64" => f64::datum_type(),
            "int64" => i64::datum_type(),
            "string" => String::datum_type(),
            t => panic!("unknown fixture tensor type {t}"),
        }
    }

    pub fn tensor(&self) -> Tensor {
        let shape = &self.shape;
        let t = match self.dtype.as_str() {
            "float32" => {
                let v: Vec<f32> = self.data.iter().map(|v| float(v) as f32).collect();
                Tensor::from_shape(shape, &v)
            }
            "float64" => {
                let v: Vec<f64> = self.data.iter().map(float).collect();
                Tensor::from_shape(shape, &v)
            }
            "int64" => {
                let v: Vec<i64> = self.data.iter().map(|v| v.as_i64().unwrap()).collect();
                Tensor::from_shape(shape, &v)
            }
            "string" => {
                let v: Vec<String> = self
                    .data
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect();
                tract_ndarray::ArrayD::from_shape_vec(shape.clone(), v)
                    .map(|a| a.into_tensor())
                    .map_err(|e| e.into())
            }
            t => panic!("unknown fixture tensor type {t}"),
        };
        t.unwrap()
    }
}

/// Runs the fixture's model through `scoring::ops::onnx()` with a symbolic batch axis
/// `N` on every input, returning outputs by name.
pub fn run(f: &TensorFixture) -> TractResult<BTreeMap<String, Tensor>> {
    let mut model = scoring::ops::onnx().model_for_read(&mut f.model_bytes().as_slice())?;
    let batch = model.symbols.sym("N").to_dim();
    let mut inputs = TVec::new();
    for (i, outlet) in model.input_outlets()?.to_vec().into_iter().enumerate() {
        let name = model.node(outlet.node).name.clone();
        let data = f.inputs.get(&name).ok_or_else(|| {
            tract_onnx::tract_hir::internal::format_err!(
                "{}: no fixture data for input {name}",
                f.name
            )
        })?;
        let mut shape: TVec<TDim> = data.shape.iter().map(|d| d.to_dim()).collect();
        shape[0] = batch.clone();
        model.set_input_fact(i, InferenceFact::dt_shape(data.datum_type(), shape))?;
        inputs.push(data.tensor().into_tvalue());
    }
    let names: Vec<String> = model
        .output_outlets()?
        .iter()
        .map(|o| {
            model
                .outlet_label(*o)
                .map(|s| s.to_string())
                .unwrap_or_else(|| model.node(o.node).name.clone())
        })
        .collect();
    let plan = model.into_optimized()?.into_runnable()?;
    let out = plan.run(inputs)?;
    Ok(names
        .into_iter()
        .zip(out)
        .map(|(n, t)| (n, t.into_tensor()))
        .collect())
}

pub const FLOAT_TOLERANCE: f64 = 1e-4;

/// Floats within [`FLOAT_TOLERANCE`] (NaN where NaN), integers and strings exactly, for
/// every output the fixture names.
pub fn assert_matches(f: &TensorFixture, got: &BTreeMap<String, Tensor>) {
    assert_matches_within(f, got, FLOAT_TOLERANCE, 0.0)
}

/// As [`assert_matches`], floats within `abs + rel * |expected|`.
pub fn assert_matches_within(
    f: &TensorFixture,
    got: &BTreeMap<String, Tensor>,
    abs: f64,
    rel: f64,
) {
    for (name, want) in &f.outputs {
        let t = got
            .get(name)
            .unwrap_or_else(|| panic!("{}: no output named {name}", f.name));
        assert_eq!(t.shape(), want.shape.as_slice(), "{}: {name} shape", f.name);
        let wanted = want.tensor();
        // tract's ONNX Cast to int64 yields TDim (its symbolic integer): same values.
        let t = &if t.datum_type() == TDim::datum_type() {
            t.cast_to::<i64>().unwrap().into_owned()
        } else {
            t.clone()
        };
        assert_eq!(
            t.datum_type(),
            wanted.datum_type(),
            "{}: {name} type",
            f.name
        );
        let mismatches = mismatches(t, &wanted, abs, rel);
        assert!(
            mismatches.is_empty(),
            "{}: {name}: {} of {} values differ, first at {:?}",
            f.name,
            mismatches.len(),
            t.len(),
            &mismatches[..mismatches.len().min(5)]
        );
    }
}

/// `(flat index, got, want)` for every disagreeing value.
pub fn mismatches(got: &Tensor, want: &Tensor, abs: f64, rel: f64) -> Vec<(usize, String, String)> {
    let dt = want.datum_type();
    let cmp_float = |g: f64, w: f64| {
        (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= abs + rel * w.abs()
    };
    let mut out = Vec::new();
    let mut push = |i: usize, g: String, w: String| out.push((i, g, w));
    if dt.is_float() {
        let g = got.cast_to::<f64>().unwrap();
        let w = want.cast_to::<f64>().unwrap();
        let g = g
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<f64>()
            .unwrap()
            .to_vec();
        let w = w
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<f64>()
            .unwrap()
            .to_vec();
        for (i, (a, b)) in g.iter().zip(&w).enumerate() {
            if !cmp_float(*a, *b) {
                push(i, a.to_string(), b.to_string());
            }
        }
    } else if dt == String::datum_type() {
        let g = got
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<String>()
            .unwrap()
            .to_vec();
        let w = want
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<String>()
            .unwrap()
            .to_vec();
        for (i, (a, b)) in g.iter().zip(&w).enumerate() {
            if a != b {
                push(i, a.clone(), b.clone());
            }
        }
    } else {
        let g = got.cast_to::<i64>().unwrap();
        let w = want.cast_to::<i64>().unwrap();
        let g = g
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<i64>()
            .unwrap()
            .to_vec();
        let w = w
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<i64>()
            .unwrap()
            .to_vec();
        for (i, (a, b)) in g.iter().zip(&w).enumerate() {
            if a != b {
                push(i, a.to_string(), b.to_string());
            }
        }
    }
    out
}
