//! The predict function's integration tests, in one test binary: each links the AWS SDK
//! and tract, so one binary links them once instead of once per file. Each module was a
//! test file of its own; their shared support is the test kit's `predict_support`. Tests
//! that need the process to themselves run alone in one of their own (`testkit::alone!`).

mod arm64;
mod bootstrap;
mod challenger;
mod events;
mod explain;
mod handler;
mod metrics;
mod oip;
mod oip_client;
mod outcomes;
mod outcomes_bootstrap;
mod panics;
