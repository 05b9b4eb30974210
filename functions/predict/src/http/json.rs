//! JSON answers.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

/// A JSON answer. Serializing these plain structs cannot fail; if it ever did, the caller
/// still gets a JSON error.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let (status, body) = match serde_json::to_string(body) {
        Ok(body) => (status, body),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error":"the answer could not be encoded"}"#.to_owned(),
        ),
    };
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
