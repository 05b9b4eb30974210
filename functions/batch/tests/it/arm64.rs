//! The deployable arm64 bootstrap (the template's default architecture, built as `sam
//! build` builds it: cargo-lambda, zig, glibc pinned to provided.al2023's) run by qemu-user
//! against the same Runtime API and moto as the native tests, with the same assertions. A
//! plain `cargo test` cannot have that bootstrap, so these are ignored there; `make test`
//! builds it and runs them (`--ignored arm64::`), failing if they fail.

use testkit::bootstrap::Bootstrap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the arm64 bootstraps that make test builds"]
async fn a_scheduled_run_of_the_arm64_bootstrap_scores_every_row() {
    crate::bootstrap::a_scheduled_run_scores_every_row(&Bootstrap::arm64("BatchFunction")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the arm64 bootstraps that make test builds"]
async fn a_night_of_slices_on_arm64_sandboxes_completes() {
    crate::state_machine::a_night_of(&Bootstrap::arm64("BatchFunction")).await;
}
