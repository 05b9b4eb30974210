//! The ports `make dev` prints: a loopback front for each function under `cargo lambda
//! watch` that passes every request through unchanged and prints one line per request
//! (method, path, status, time; a refusal's message) on the terminal, where the function's
//! own logs and metric documents no longer go (see `logs.rs`).

use std::convert::Infallible;
use std::time::Instant;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderName, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The server; stops when dropped.
pub struct Front {
    pub port: u16,
    server: JoinHandle<()>,
}

impl Drop for Front {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Front {
    /// Listens on a free port of 127.0.0.1 and forwards to `127.0.0.1:upstream`, printing
    /// each request as `[name] METHOD /path -> status (ms)`.
    pub async fn start(name: &'static str, upstream: u16) -> std::io::Result<Front> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| async move {
                        Ok::<_, Infallible>(forward(name, upstream, request).await)
                    });
                    // A client that goes away mid-request is its own business.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Front { port, server })
    }
}

async fn forward(name: &str, upstream: u16, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |p| p.to_string());
    let (status, headers, body) = match pass(upstream, request).await {
        Ok(answer) => answer,
        Err(e) => {
            // cargo lambda watch restarts the function when its code changes.
            let body = serde_json::json!({
                "error": format!("make dev: the function on port {upstream} did not answer ({e}); is cargo lambda watch rebuilding it?")
            });
            let mut headers = HeaderMap::new();
            headers.insert(
                CONTENT_TYPE,
                "application/json".parse().expect("a header value"),
            );
            (
                StatusCode::BAD_GATEWAY,
                headers,
                Bytes::from(body.to_string()),
            )
        }
    };
    println!(
        "[{name}] {method} {path} -> {} ({:.1} ms){}",
        status.as_u16(),
        started.elapsed().as_secs_f64() * 1e3,
        if status.is_success() {
            String::new()
        } else {
            refusal(&body)
        }
    );
    let mut answer = Response::new(Full::new(body));
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    answer
}

/// The request as it came (one upstream connection per request), and the whole answer.
async fn pass(
    upstream: u16,
    request: Request<Incoming>,
) -> Result<(StatusCode, HeaderMap, Bytes), String> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    let stream = TcpStream::connect(("127.0.0.1", upstream))
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let mut onward = Request::builder()
        .method(parts.method)
        .uri(parts.uri.path_and_query().map_or("/", |p| p.as_str()))
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    *onward.headers_mut() = end_to_end(parts.headers);
    let answer = sender
        .send_request(onward)
        .await
        .map_err(|e| e.to_string())?;
    let (parts, body) = answer.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((parts.status, end_to_end(parts.headers), body))
}

/// The headers without the hop-by-hop ones: the body is passed whole, its length set anew.
fn end_to_end(mut headers: HeaderMap) -> HeaderMap {
    for name in [
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
    ] {
        headers.remove(HeaderName::from_static(name));
    }
    headers
}

/// `: <message>` of a JSON `{"error": ...}` answer, shortened, else nothing.
fn refusal(body: &[u8]) -> String {
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("error")
                .map(|e| e.as_str().map_or(e.to_string(), str::to_owned))
        });
    match message {
        Some(m) if m.chars().count() > 160 => {
            format!(": {}...", m.chars().take(160).collect::<String>())
        }
        Some(m) => format!(": {m}"),
        None => String::new(),
    }
}
