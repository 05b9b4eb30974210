//! The end-to-end tests, in one test binary: each links the AWS SDK, tract and both
//! functions, so one binary links them once instead of once per file. Each module was a
//! test file of its own; each test that needs moto starts with `moto_or_skip!()`, and the
//! process's tests share one moto server (the test command's, or one started here).

// The functions' own test support (demo model, sample events, in-memory jobs), shared with
// their tests.
use testkit::batch_support;
use testkit::predict_support;

mod accuracy_on_moto;
mod batch_faults_on_moto;
mod batch_on_moto;
mod captures_on_moto;
mod challenger_nightly_on_moto;
mod challenger_on_moto;
mod classifier_on_moto;
mod outcomes_on_moto;
mod predict_faults_on_moto;
mod predict_on_moto;
mod predictions_on_moto;
mod template;
