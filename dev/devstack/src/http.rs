//! Loopback HTTP/1.1 calls, one request per connection: enough to call the function under
//! `cargo lambda watch`.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Sends one request to `127.0.0.1:port` and returns (status, body).
pub async fn call(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let (status, body, _) = call_with_id(port, method, path, body).await?;
    Ok((status, body))
}

/// As [`call`], with the answer's `x-request-id` (a scoring answer's: what `POST /outcomes`
/// takes as `request_id`).
pub async fn call_with_id(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String, Option<String>)> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    // Drives the connection; it ends when `sender` is dropped.
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, format!("127.0.0.1:{port}"))
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.unwrap_or_default().to_owned())))
        .map_err(std::io::Error::other)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(std::io::Error::other)?;
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?;
    Ok((
        status,
        String::from_utf8_lossy(&body.to_bytes()).into_owned(),
        request_id,
    ))
}
