//! HTTP concerns every route shares, as leaves: the error answer, the limits, JSON. Nothing
//! here knows a handler.

pub mod body;
pub mod error;
pub mod json;
pub mod limits;
pub mod query;

pub use body::bounded_body;
pub use error::ApiError;
pub use json::json_response;
