//! The deployable arm64 bootstrap (the template's default architecture, built as `sam
//! build` builds it: cargo-lambda, zig, glibc pinned to provided.al2023's) run by qemu-user
//! against the same Runtime API and moto as the native tests, with the same assertions. A
//! plain `cargo test` cannot have that bootstrap, so these are ignored there; `make test`
//! builds it and runs them (`--ignored arm64::`), failing if they fail.

use testkit::bootstrap::Bootstrap;

use crate::bootstrap::{a_start_without_the_model_fails, every_event_through};

#[tokio::test]
#[ignore = "needs the arm64 bootstraps that make test builds"]
async fn every_event_through_the_arm64_bootstrap() {
    let cold_start = every_event_through(&Bootstrap::arm64("PredictFunction")).await;
    // Emulated: a record of this run, not a figure for Graviton.
    println!("arm64 predict under qemu-user: spawn to first /next {cold_start:?}");
}

#[tokio::test]
#[ignore = "needs the arm64 bootstraps that make test builds"]
async fn a_start_of_the_arm64_bootstrap_without_the_model_fails_the_init() {
    a_start_without_the_model_fails(&Bootstrap::arm64("PredictFunction")).await;
}
