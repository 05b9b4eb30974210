//! HTTP concerns every route shares, as leaves: the error answer, the limits, JSON. Nothing
//! here knows a handler.

pub mod error;
pub mod json;
pub mod limits;

pub use error::ApiError;
pub use json::{bounded_body, json_response};
