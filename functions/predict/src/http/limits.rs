//! What one request may hold.

/// Largest request body accepted (1 MiB); API Gateway itself allows more.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Most rows in one request (`POST /predict` instances, an inference request's rows).
pub const MAX_INSTANCES: usize = 1000;

/// DynamoDB's limit on a partition key, in UTF-8 bytes.
pub const MAX_PRODUCT_ID_BYTES: usize = 2048;
