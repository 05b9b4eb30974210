//! Fixtures written by `model/make_fixtures.py`: ONNX files, inputs and onnxruntime's
//! outputs, committed so tests need no Python.
#![allow(dead_code)]

pub mod tensors;

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Fixture {
    pub name: String,
    pub onnx: String,
    pub x: String,
    pub y: String,
    pub rows: usize,
    pub features: Vec<String>,
    pub targets: usize,
    pub input_layout: String,
    pub ops: Vec<String>,
}

pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn fixture(name: &str) -> Fixture {
    let manifest = std::fs::read_to_string(dir().join("manifest.json")).expect("fixtures manifest");
    let all: Vec<Fixture> = serde_json::from_str(&manifest).expect("manifest is valid JSON");
    all.into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no fixture named {name}"))
}

pub fn bytes(file: &str) -> Vec<u8> {
    std::fs::read(dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

pub fn floats(file: &str) -> Vec<f32> {
    bytes(file)
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

impl Fixture {
    pub fn model_bytes(&self) -> Vec<u8> {
        bytes(&self.onnx)
    }
    pub fn inputs(&self) -> Vec<f32> {
        let x = floats(&self.x);
        assert_eq!(
            x.len(),
            self.rows * self.features.len(),
            "{}: input size",
            self.name
        );
        x
    }
    pub fn expected(&self) -> Vec<f32> {
        let y = floats(&self.y);
        assert_eq!(
            y.len(),
            self.rows * self.targets,
            "{}: output size",
            self.name
        );
        y
    }
}

/// Largest absolute difference, failing on any length mismatch or NaN disagreement.
pub fn max_abs_diff(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "result length");
    got.iter()
        .zip(want)
        .map(|(g, w)| {
            assert_eq!(g.is_nan(), w.is_nan(), "NaN mismatch: got {g}, want {w}");
            if g.is_nan() {
                0.0
            } else {
                (g - w).abs()
            }
        })
        .fold(0.0, f32::max)
}
