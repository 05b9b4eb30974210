//! Explanations: each answer's contributions per input feature (path-dependent TreeSHAP for
//! tree ensembles, coefficient × (value − training mean) for linear models), in the space
//! the trees or coefficients add up in (a score, a margin, or a probability).
//!
//! `lineage` traces which model input feature each column a tree ensemble (or linear
//! model) reads comes from; `combination` traces how the ensembles' outputs make up the
//! model's answer; `linear` explains a linear model; `explainer` puts them together at
//! load and explains rows; `explanation` is what it answers. This module only declares its
//! children and re-exports.

mod build;
mod combination;
mod explainer;
mod explanation;
mod lineage;
mod linear;

pub(crate) use build::{build, wanted, Source};
pub(crate) use explainer::Explainer;
pub use explanation::{ExplainedTargets, Explanations, RowExplanation, Space};
