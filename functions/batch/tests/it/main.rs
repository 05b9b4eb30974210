//! The batch function's integration tests, in one test binary: each links the AWS SDK and
//! tract, so one binary links them once instead of once per file. Each module was a test
//! file of its own; their shared support is the test kit's `batch_support`.

mod accuracy;
mod arm64;
mod bootstrap;
mod challenger;
mod dynamodb_faults;
mod explain;
mod job;
mod metrics;
mod state_machine;
