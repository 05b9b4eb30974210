//! A plain HTTP server on loopback in front of a function served by a [`RuntimeApi`]: what
//! API Gateway's HTTP API does, for clients that speak HTTP (curl, an SDK, tritonclient).
//! Each request becomes a payload format 2.0 event (`version`, `rawPath`,
//! `rawQueryString`, `headers`, `requestContext.http`, `body`, base64 when it is not
//! UTF-8), is invoked through the Runtime API, and the function's
//! `{statusCode, headers, body, isBase64Encoded}` becomes the HTTP response.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use testkit::{http_front::HttpFront, runtime_api::RuntimeApi};
//! let api = Arc::new(RuntimeApi::start().await?);
//! // spawn the function against api.address(), then:
//! let front = HttpFront::start(api.clone()).await?;
//! println!("curl {}/health", front.url());
//! # Ok(()) }
//! ```
//!
//! Not emulated: routes and authorizers (every path goes to the function, as the
//! `$default` route does), cookies as their own field, the 10 MB payload limit, and stages
//! (the path carries none).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::runtime_api::{Outcome, RuntimeApi};

/// How long a request waits for the function (API Gateway's integration limit is 30 s).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The server; stops when dropped.
pub struct HttpFront {
    address: SocketAddr,
    server: JoinHandle<()>,
}

impl HttpFront {
    /// Listens on a free port of 127.0.0.1 and sends every request to `api`'s function.
    pub async fn start(api: Arc<RuntimeApi>) -> std::io::Result<HttpFront> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let next_id = Arc::new(AtomicU64::new(1));
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (api, next_id) = (api.clone(), next_id.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let (api, id) = (api.clone(), next_id.fetch_add(1, Ordering::Relaxed));
                        async move { Ok::<_, Infallible>(forward(&api, request, id).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(HttpFront { address, server })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn socket_address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for HttpFront {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// One request through the function.
async fn forward(api: &RuntimeApi, request: Request<Incoming>, id: u64) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return gateway_error(StatusCode::BAD_REQUEST, &format!("body: {e}")),
    };
    let event = event(&parts, &body, id);
    let done = match tokio::time::timeout(TIMEOUT, api.invoke_json(&event)).await {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => return gateway_error(StatusCode::BAD_GATEWAY, &e.to_string()),
        Err(_) => return gateway_error(StatusCode::GATEWAY_TIMEOUT, "the function timed out"),
    };
    match &done.outcome {
        Outcome::Response(bytes) => match serde_json::from_slice::<Value>(bytes) {
            Ok(answer) => response(&answer),
            Err(e) => gateway_error(StatusCode::BAD_GATEWAY, &format!("not JSON: {e}")),
        },
        // What API Gateway answers when the function fails.
        Outcome::Error(_) => {
            gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

/// The HTTP API's payload format 2.0 event for a request.
pub fn event(parts: &hyper::http::request::Parts, body: &[u8], id: u64) -> Value {
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        // Repeated headers are joined with commas, as API Gateway does.
        match headers.get_mut(name.as_str()) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let path = parts.uri.path();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let user_agent = headers
        .get("user-agent")
        .cloned()
        .unwrap_or(Value::String(String::new()));
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": parts.uri.query().unwrap_or(""),
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": user_agent,
            },
            "requestId": format!("local-{id}"),
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": now,
        },
        "isBase64Encoded": false,
    });
    if !body.is_empty() {
        event["body"] = match std::str::from_utf8(body) {
            Ok(text) => Value::String(text.to_owned()),
            Err(_) => {
                event["isBase64Encoded"] = Value::Bool(true);
                Value::String(base64::engine::general_purpose::STANDARD.encode(body))
            }
        };
    }
    event
}

/// The function's `{statusCode, headers, body, isBase64Encoded}` as an HTTP response.
fn response(answer: &Value) -> Response<Full<Bytes>> {
    let status = answer["statusCode"]
        .as_u64()
        .and_then(|s| StatusCode::from_u16(u16::try_from(s).ok()?).ok())
        .unwrap_or(StatusCode::OK);
    let text = answer["body"].as_str().unwrap_or("");
    let body = if answer["isBase64Encoded"].as_bool() == Some(true) {
        match base64::engine::general_purpose::STANDARD.decode(text) {
            Ok(bytes) => Bytes::from(bytes),
            Err(e) => return gateway_error(StatusCode::BAD_GATEWAY, &format!("base64: {e}")),
        }
    } else {
        Bytes::from(text.to_owned())
    };
    let mut builder = Response::builder().status(status);
    if let Some(headers) = answer["headers"].as_object() {
        for (name, value) in headers {
            if let Some(value) = value.as_str() {
                builder = builder.header(name.as_str(), value);
            }
        }
    }
    if let Some(headers) = answer["multiValueHeaders"].as_object() {
        for (name, values) in headers {
            if answer["headers"].get(name).is_some() {
                continue;
            }
            for value in values
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                builder = builder.header(name.as_str(), value);
            }
        }
    }
    builder
        .body(Full::new(body))
        .unwrap_or_else(|e| gateway_error(StatusCode::BAD_GATEWAY, &format!("headers: {e}")))
}

fn gateway_error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(
        json!({ "message": message }).to_string(),
    )));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, uri: &str) -> hyper::http::request::Parts {
        Request::builder()
            .method(method)
            .uri(uri)
            .header("x-a", "1")
            .header("x-a", "2")
            .header("user-agent", "t")
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[test]
    fn requests_become_payload_2_events() {
        let e = event(&parts("POST", "/v2/models/m/infer?x=1"), b"{}", 7);
        assert_eq!(e["version"], "2.0");
        assert_eq!(e["rawPath"], "/v2/models/m/infer");
        assert_eq!(e["rawQueryString"], "x=1");
        assert_eq!(e["headers"]["x-a"], "1,2");
        assert_eq!(e["requestContext"]["http"]["method"], "POST");
        assert_eq!(e["requestContext"]["http"]["userAgent"], "t");
        assert_eq!(e["requestContext"]["requestId"], "local-7");
        assert_eq!(
            (&e["body"], &e["isBase64Encoded"]),
            (&json!("{}"), &json!(false))
        );
        // Bytes that are not UTF-8 travel as base64.
        let e = event(&parts("POST", "/x"), &[0xff, 0x00], 8);
        assert_eq!(
            (&e["body"], &e["isBase64Encoded"]),
            (&json!("/wA="), &json!(true))
        );
        // No body, no body field.
        assert!(event(&parts("GET", "/"), b"", 9).get("body").is_none());
    }

    #[tokio::test]
    async fn answers_become_http_responses() {
        let answer = json!({"statusCode": 405, "headers": {"allow": "GET", "content-type": "application/json"},
                            "body": "{\"error\":\"x\"}", "isBase64Encoded": false});
        let r = response(&answer);
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()["allow"], "GET");
        let body = r.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"{\"error\":\"x\"}");
        let binary = json!({"statusCode": 200, "body": "/wA=", "isBase64Encoded": true});
        let body = response(&binary)
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(&body[..], &[0xff, 0x00]);
    }
}
