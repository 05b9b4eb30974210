//! The scoring crate's integration tests, in one test binary (each links tract: one link
//! instead of one per file). Each module was a test file of its own.

mod common;

mod class_labels;
mod explain;
mod fixtures;
mod load_refusals;
mod ops_classifiers;
mod ops_encoders;
mod ops_encoders_refusals;
mod row_errors;
mod tree_ensemble5;
mod typed_fixtures;
