//! Generic tensor fixtures: `tests/fixtures/ops/<name>.onnx` plus `<name>.json` holding
//! typed inputs and onnxruntime's outputs:
//! `{"inputs": {name: {"type", "shape", "data"}}, "outputs": {...}}`, data flat in
//! row-major order, NaN as `null`. Types: float32, float64, int64, string. Written by the
//! model/ fixture scripts; used by the encoder and the classifier op tests.
//!
//! Self-contained (serde, serde_json, tract, `scoring::ops`) so it can serve any op test.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::{bail, TractErrorContext};

#[derive(Debug, Deserialize)]
struct Spec {
    #[serde(rename = "type")]
    ty: String,
    shape: Vec<usize>,
    data: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct Doc {
    inputs: BTreeMap<String, Spec>,
    outputs: BTreeMap<String, Spec>,
}

/// One fixture: the model's bytes and its named input and expected output tensors.
#[derive(Debug)]
pub struct TensorFixture {
    pub name: String,
    pub model: Vec<u8>,
    pub inputs: BTreeMap<String, Tensor>,
    pub outputs: BTreeMap<String, Tensor>,
}

pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ops")
}

pub fn load(name: &str) -> TensorFixture {
    let read = |ext: &str| {
        let path = dir().join(format!("{name}.{ext}"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let doc: Doc =
        serde_json::from_slice(&read("json")).unwrap_or_else(|e| panic!("{name}.json: {e}"));
    let tensors = |specs: BTreeMap<String, Spec>| {
        specs
            .into_iter()
            .map(|(k, s)| {
                let t = tensor(&s).unwrap_or_else(|e| panic!("{name}.json, {k}: {e:#}"));
                (k, t)
            })
            .collect()
    };
    TensorFixture {
        name: name.to_string(),
        model: read("onnx"),
        inputs: tensors(doc.inputs),
        outputs: tensors(doc.outputs),
    }
}

fn tensor(spec: &Spec) -> TractResult<Tensor> {
    fn float(v: &Value) -> TractResult<f64> {
        match v {
            Value::Null => Ok(f64::NAN),
            v => v.as_f64().with_context(|| format!("not a number: {v}")),
        }
    }
    let d = &spec.data;
    let t = match spec.ty.as_str() {
        "float32" => tensor1(
            &d.iter()
                .map(|v| Ok(float(v)? as f32))
                .collect::<TractResult<Vec<_>>>()?,
        ),
        "float64" => tensor1(&d.iter().map(float).collect::<TractResult<Vec<_>>>()?),
        "int64" => tensor1(
            &d.iter()
                .map(|v| v.as_i64().with_context(|| format!("not an int64: {v}")))
                .collect::<TractResult<Vec<_>>>()?,
        ),
        "string" => tensor1(
            &d.iter()
                .map(|v| {
                    v.as_str()
                        .map(String::from)
                        .with_context(|| format!("not a string: {v}"))
                })
                .collect::<TractResult<Vec<_>>>()?,
        ),
        other => bail!("unknown type {other}"),
    };
    t.into_shape(&spec.shape)
}

/// The optimized plan for a fixture's model, each input typed from the fixture with a
/// symbolic first axis `N` (when it has one), so one plan must serve any batch size.
pub fn plan(f: &TensorFixture) -> TractResult<Arc<TypedRunnableModel>> {
    let mut model = scoring::ops::onnx().model_for_read(&mut f.model.as_slice())?;
    let n = model.symbols.sym("N");
    for (i, outlet) in model.input_outlets()?.to_vec().into_iter().enumerate() {
        let name = &model.node(outlet.node).name;
        let t = f
            .inputs
            .get(name)
            .with_context(|| format!("{}: no fixture input for model input {name}", f.name))?;
        let mut shape: TVec<TDim> = t.shape().iter().map(|d| d.to_dim()).collect();
        if let Some(first) = shape.first_mut() {
            *first = n.to_dim();
        }
        let fact = InferenceFact::dt_shape(t.datum_type(), shape);
        model.set_input_fact(i, fact)?;
    }
    model.into_optimized()?.into_runnable()
}

/// Runs a fixture's inputs through its model; outputs keyed by the model's output names
/// (an output's label, else its node's name).
pub fn run(f: &TensorFixture) -> TractResult<BTreeMap<String, Tensor>> {
    let plan = plan(f)?;
    run_plan(&plan, f, f.inputs.clone())
}

/// Runs `inputs` (keyed by name) through a plan made by [`plan`].
pub fn run_plan(
    plan: &Arc<TypedRunnableModel>,
    f: &TensorFixture,
    mut inputs: BTreeMap<String, Tensor>,
) -> TractResult<BTreeMap<String, Tensor>> {
    let model = plan.model();
    let mut feed = tvec![];
    for outlet in model.input_outlets()? {
        let name = &model.node(outlet.node).name;
        let t = inputs
            .remove(name)
            .with_context(|| format!("{}: no input {name}", f.name))?;
        feed.push(t.into_tvalue());
    }
    let results = plan.run(feed)?;
    let mut out = BTreeMap::new();
    for (outlet, value) in model.output_outlets()?.iter().zip(results) {
        let label = model
            .outlet_label(*outlet)
            .map(String::from)
            .unwrap_or_else(|| model.node(outlet.node).name.clone());
        out.insert(label, value.into_tensor());
    }
    Ok(out)
}

/// How close a float output must come to onnxruntime's value `want` (NaN only where NaN).
#[derive(Clone, Copy, Debug)]
pub enum Tolerance {
    /// `|got - want| <= max(abs, rel * |want|)`.
    AbsOrRel { abs: f64, rel: f64 },
    /// `|got - want| <= abs + rel * |want|`.
    AbsPlusRel { abs: f64, rel: f64 },
}

impl Tolerance {
    pub fn allows(self, got: f64, want: f64) -> bool {
        if want.is_nan() || got.is_nan() {
            return want.is_nan() && got.is_nan();
        }
        let allowed = match self {
            Tolerance::AbsOrRel { abs, rel } => abs.max(rel * want.abs()),
            Tolerance::AbsPlusRel { abs, rel } => abs + rel * want.abs(),
        };
        got == want || (got - want).abs() <= allowed
    }
}

/// [`check`], [`assert_matches`] and [`assert_tensor`]: 1e-4 absolute or 1e-5 relative.
pub const DEFAULT_TOLERANCE: Tolerance = Tolerance::AbsOrRel {
    abs: 1e-4,
    rel: 1e-5,
};

/// Loads, runs and checks one fixture within [`DEFAULT_TOLERANCE`].
pub fn check(name: &str) {
    check_within(name, DEFAULT_TOLERANCE)
}

/// Loads, runs and checks one fixture, floats within `tolerance`.
pub fn check_within(name: &str, tolerance: Tolerance) {
    let f = load(name);
    let got = run(&f).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    assert_matches_within(&f, &got, tolerance);
}

/// Checks every expected output within [`DEFAULT_TOLERANCE`].
pub fn assert_matches(f: &TensorFixture, got: &BTreeMap<String, Tensor>) {
    assert_matches_within(f, got, DEFAULT_TOLERANCE)
}

/// Checks every output the fixture names with [`assert_tensor_within`].
pub fn assert_matches_within(
    f: &TensorFixture,
    got: &BTreeMap<String, Tensor>,
    tolerance: Tolerance,
) {
    for (name, want) in &f.outputs {
        let got = got
            .get(name)
            .unwrap_or_else(|| panic!("{}: no output {name} in {:?}", f.name, got.keys()));
        assert_tensor_within(&format!("{}.{name}", f.name), got, want, tolerance);
    }
}

pub fn assert_tensor(what: &str, got: &Tensor, want: &Tensor) {
    assert_tensor_within(what, got, want, DEFAULT_TOLERANCE)
}

/// Same shape and type; floats within `tolerance`, integers and strings exact.
pub fn assert_tensor_within(what: &str, got: &Tensor, want: &Tensor, tolerance: Tolerance) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    // tract's ONNX Cast to int64 yields TDim (its symbolic integer): same values.
    let got = &if got.datum_type() == TDim::datum_type() && want.datum_type() == i64::datum_type() {
        got.cast_to::<i64>().unwrap().into_owned()
    } else {
        got.clone()
    };
    assert_eq!(got.datum_type(), want.datum_type(), "{what}: type");
    let mismatches = mismatches(got, want, tolerance);
    assert!(
        mismatches.is_empty(),
        "{what}: {} of {} values differ, first at {:?}\n got {got:?}\nwant {want:?}",
        mismatches.len(),
        got.len(),
        &mismatches[..mismatches.len().min(5)]
    );
}

/// `(flat index, got, want)` for every disagreeing value: floats compared as f64 within
/// `tolerance`, strings and integers (as i64) exactly.
pub fn mismatches(
    got: &Tensor,
    want: &Tensor,
    tolerance: Tolerance,
) -> Vec<(usize, String, String)> {
    fn differing<T: Datum + ToString>(
        got: &Tensor,
        want: &Tensor,
        agree: impl Fn(&T, &T) -> bool,
    ) -> Vec<(usize, String, String)> {
        let (g, w) = (got.cast_to::<T>().unwrap(), want.cast_to::<T>().unwrap());
        let (g, w) = (
            g.to_plain_array_view::<T>().unwrap(),
            w.to_plain_array_view::<T>().unwrap(),
        );
        g.iter()
            .zip(w.iter())
            .enumerate()
            .filter(|(_, (g, w))| !agree(g, w))
            .map(|(i, (g, w))| (i, g.to_string(), w.to_string()))
            .collect()
    }
    let dt = want.datum_type();
    if dt.is_float() {
        differing::<f64>(got, want, |g, w| tolerance.allows(*g, *w))
    } else if dt == String::datum_type() {
        differing::<String>(got, want, |g, w| g == w)
    } else {
        differing::<i64>(got, want, |g, w| g == w)
    }
}
