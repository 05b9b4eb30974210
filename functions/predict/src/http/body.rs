//! The request body, within the limit.

use lambda_http::Body;

use super::error::ApiError;
use super::limits::MAX_BODY_BYTES;

/// The body's bytes, if within the limit; 413 otherwise.
pub fn bounded_body(body: &Body) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = body.as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(format!(
            "the body is {} bytes; the limit is {MAX_BODY_BYTES}",
            bytes.len()
        )));
    }
    Ok(bytes)
}
