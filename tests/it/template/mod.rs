//! `template.yaml` as code. aws-sam-translator (`tests/template/translate.py`, the
//! Serverless transform CloudFormation runs at deploy time) turns it into plain
//! CloudFormation, which these tests read (with the test kit's evaluator,
//! `testkit::cloudformation`), and deploy to moto's CloudFormation to see what gets created
//! (`testkit::deploy`). `cfn-lint`, `sam validate --lint` and `sam build` run from
//! `make test`.
//!
//! moto emulates neither the HTTP API, the Lambda alias, CodeDeploy, CloudWatch alarms,
//! bucket or queue policies nor event-invoke configs (nor, on the resources it creates,
//! bucket versioning, public access blocks, table SSE and point-in-time recovery): those
//! are checked on the translated template.

/// The nightly join: the batch function's access, the accuracy alarms, the dashboard.
mod accuracy;
/// The canary, the model's alarms and the dashboard.
mod alarms;
/// Who can call the API: IAM, JWT or no authorizer, as SAM's own `Auth` would write it.
mod api_auth;
/// Captures: the rate, the bucket, the delivery stream and its subscription.
mod capture;
/// The challenger: its key, its grant, the optional disagreement alarm, the dashboard.
mod challenger;
/// Deployed to moto: the stack wired to its own resources.
mod on_moto;
/// The outcomes table and its retention.
mod outcomes;
/// Least privilege: each role's statements.
mod roles;
/// What the security scan asks for: the stack's KMS key, concurrency bounds, access logs,
/// the findings skipped on purpose.
mod security;
/// The nightly run's state machine.
mod state_machine;
/// When CloudFormation publishes a new predict version (and so starts the canary).
mod versions;
/// The functions' environment, timeouts, data, logs and schedule.
mod wiring;

/// lambda_http's own switch: route on the path without the API stage.
const STAGE_SWITCH: &str = "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH";
