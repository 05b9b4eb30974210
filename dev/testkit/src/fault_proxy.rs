//! A fault-injecting HTTP/1.1 proxy between an SDK client and moto server: the faults moto
//! cannot make (throttling, server errors, dropped connections, partial batch writes),
//! scripted per DynamoDB operation, with everything else passed through unchanged.
//!
//! Point a client's endpoint at [`FaultProxy::endpoint`] and script faults with
//! [`FaultProxy::inject`]. The operation is the part of the `X-Amz-Target` header after
//! the dot (`DynamoDB_20120810.BatchWriteItem` is `BatchWriteItem`); requests without one
//! (S3) are never faulted. Each request of an operation consumes the next fault scripted
//! for it, if any, so a fault the SDK retries is followed by the next one on the retry.
//!
//! Each request to the upstream goes over a connection of its own: a pooled client could
//! resend a request on its own after a connection problem, and the tests count every
//! attempt. Bodies are small in tests, so requests and answers are read whole.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// One scripted fault, consumed by one request of the operation it was injected for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 400 `ProvisionedThroughputExceededException`, as DynamoDB throttles; not forwarded.
    Throttle,
    /// This status (500, 503, ...) with a DynamoDB error body; not forwarded.
    ServerError(u16),
    /// The connection is closed without an answer; the request is not forwarded.
    DropBeforeForward,
    /// The request is forwarded and answered upstream, then the connection is closed
    /// without an answer: the write happened, but the client never hears of it.
    DropAfterForward,
    /// The request is held without an answer for this long (a stalled service), then
    /// forwarded; a client that gives up first has closed the connection by then.
    Stall(std::time::Duration),
    /// BatchWriteItem only: the last `n` write requests are held back (not forwarded) and
    /// handed back under `UnprocessedItems` in the upstream's answer, as DynamoDB does when
    /// a partition is over its throughput.
    Unprocessed(usize),
}

const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"injected"}"#;
const DYNAMODB_JSON: &str = "application/x-amz-json-1.0";
const BATCH_WRITE_ITEM: &str = "BatchWriteItem";

/// The proxy: listening on 127.0.0.1 until [`FaultProxy::shutdown`] or drop.
pub struct FaultProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

struct Shared {
    /// `host:port` of the upstream.
    upstream: String,
    scripts: Mutex<HashMap<String, Script>>,
}

#[derive(Default)]
struct Script {
    pending: VecDeque<Fault>,
    consumed: usize,
    requests: usize,
}

impl FaultProxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream`
    /// (`http://host:port`, as moto's endpoint is written).
    pub async fn start(upstream: &str) -> std::io::Result<FaultProxy> {
        let authority = upstream
            .strip_prefix("http://")
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("the upstream must be http://host:port, not {upstream}"),
                )
            })?
            .trim_end_matches('/');
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: authority.to_owned(),
            scripts: Mutex::default(),
        });
        let accept = tokio::spawn(accept(listener, shared.clone()));
        Ok(FaultProxy {
            address,
            shared,
            accept,
        })
    }

    /// `http://127.0.0.1:<port>`: the endpoint to give the SDK.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Appends `faults` to those waiting for `operation` (`"BatchWriteItem"`, `"Scan"`).
    pub fn inject(&self, operation: &str, faults: impl IntoIterator<Item = Fault>) {
        let faults: Vec<Fault> = faults.into_iter().collect();
        assert!(
            operation == BATCH_WRITE_ITEM
                || !faults.iter().any(|f| matches!(f, Fault::Unprocessed(_))),
            "Unprocessed is a BatchWriteItem fault, not a {operation} one"
        );
        self.shared
            .scripts()
            .entry(operation.to_owned())
            .or_default()
            .pending
            .extend(faults);
    }

    /// How many faults scripted for `operation` requests have consumed so far.
    pub fn injected(&self, operation: &str) -> usize {
        self.shared
            .scripts()
            .get(operation)
            .map_or(0, |s| s.consumed)
    }

    /// How many requests for `operation` have arrived, faulted or not.
    pub fn requests(&self, operation: &str) -> usize {
        self.shared
            .scripts()
            .get(operation)
            .map_or(0, |s| s.requests)
    }

    /// Stops listening and closes every open connection.
    pub fn shutdown(self) {}
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // The accept task owns the connections' JoinSet: aborting it aborts them all.
        self.accept.abort();
    }
}

impl Shared {
    fn scripts(&self) -> MutexGuard<'_, HashMap<String, Script>> {
        // A panicking test thread must not hide the proxy's state from the others.
        self.scripts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a request of `operation` and takes its fault, if one is waiting.
    fn next_fault(&self, operation: &str) -> Option<Fault> {
        let mut scripts = self.scripts();
        let script = scripts.entry(operation.to_owned()).or_default();
        script.requests += 1;
        let fault = script.pending.pop_front()?;
        script.consumed += 1;
        Some(fault)
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, say: wait rather than spin.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let shared = shared.clone();
        connections.spawn(async move {
            let service = service_fn(move |request| serve(shared.clone(), request));
            // An error is how a Drop fault ends the connection: when the service fails,
            // hyper writes nothing for that request and closes the socket, so the client
            // sees the connection end before any answer (not a 500).
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

/// The service's error: the connection is closed without an answer.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

type Reply = Response<Full<Bytes>>;

async fn serve(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Reply, Dropped> {
    let (mut parts, body) = request.into_parts();
    // Read whole before any fault, so a drop never leaves unread bytes (which would make
    // the close a reset rather than an end of stream, another fault than the one asked).
    let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|target| target.split_once('.'))
        .map(|(_, operation)| operation.to_owned());
    let fault = operation.as_deref().and_then(|op| shared.next_fault(op));
    strip_hop_by_hop(&mut parts.headers);
    let request = Request::from_parts(parts, Full::new(body));
    match fault {
        None => Ok(forward(&shared.upstream, request).await),
        Some(Fault::Throttle) => Ok(dynamodb_answer(StatusCode::BAD_REQUEST, THROTTLED.into())),
        Some(Fault::ServerError(status)) => {
            let status = StatusCode::from_u16(status).expect("a valid HTTP status");
            // DynamoDB's own names; the SDK retries any 500, 502, 503 or 504 whatever
            // the body says.
            let code = match status {
                StatusCode::INTERNAL_SERVER_ERROR => "InternalServerError",
                _ => "ServiceUnavailable",
            };
            let body = format!(
                r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"injected"}}"#
            );
            Ok(dynamodb_answer(status, body))
        }
        Some(Fault::DropBeforeForward) => Err(Dropped),
        Some(Fault::DropAfterForward) => {
            // Awaited to the end of the upstream's answer: the call has taken effect.
            forward(&shared.upstream, request).await;
            Err(Dropped)
        }
        Some(Fault::Unprocessed(n)) => Ok(unprocessed(&shared.upstream, request, n).await),
        Some(Fault::Stall(duration)) => {
            tokio::time::sleep(duration).await;
            Ok(forward(&shared.upstream, request).await)
        }
    }
}

fn dynamodb_answer(status: StatusCode, body: String) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body)));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(DYNAMODB_JSON));
    reply
}

/// The upstream's answer, or 502 naming why there is none.
async fn forward(upstream: &str, request: Request<Full<Bytes>>) -> Reply {
    match exchange(upstream, request).await {
        Ok(answer) => answer,
        Err(e) => {
            let mut reply = Response::new(Full::new(Bytes::from(format!(
                "fault proxy: no answer from {upstream}: {e}"
            ))));
            *reply.status_mut() = StatusCode::BAD_GATEWAY;
            reply
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One request on a new connection to `upstream`, its answer read whole.
async fn exchange(upstream: &str, request: Request<Full<Bytes>>) -> Result<Reply, BoxError> {
    let stream = TcpStream::connect(upstream).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let call = async move {
        let answer = sender.send_request(request).await?;
        let (mut parts, body) = answer.into_parts();
        let body = body.collect().await?.to_bytes();
        strip_hop_by_hop(&mut parts.headers);
        Ok::<_, BoxError>(Response::from_parts(parts, Full::new(body)))
        // `sender` is dropped here, which lets `connection` end.
    };
    // The connection is driven here, not on a task of its own, so that shutting the
    // proxy down ends it too.
    let (answer, _) = tokio::join!(call, connection);
    answer
}

/// Headers that describe one connection, not the message: each side sets its own (hyper
/// recomputes the framing from the whole body it is given).
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "expect",
    ] {
        headers.remove(name);
    }
}

/// BatchWriteItem with its last `n` write requests held back and then reported
/// unprocessed, merged into the upstream's own `UnprocessedItems`.
async fn unprocessed(upstream: &str, request: Request<Full<Bytes>>, n: usize) -> Reply {
    let (mut parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let Ok(mut input) = serde_json::from_slice::<Value>(&body) else {
        return dynamodb_answer(
            StatusCode::BAD_REQUEST,
            r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"fault proxy: the body is not JSON"}"#.into(),
        );
    };
    let held = hold_back(&mut input, n);
    let left = input["RequestItems"].as_object().map_or(0, |tables| {
        tables
            .values()
            .filter_map(Value::as_array)
            .map(Vec::len)
            .sum()
    });
    let (mut answer, mut output) = if left == 0 {
        // Everything held back: DynamoDB refuses an empty request, so none is sent.
        (
            dynamodb_answer(StatusCode::OK, String::new()),
            Value::Object(Map::new()),
        )
    } else {
        let body = serde_json::to_vec(&input).expect("JSON serializes");
        parts.headers.insert(CONTENT_LENGTH, body.len().into());
        let answer = forward(upstream, Request::from_parts(parts, Full::new(body.into()))).await;
        if !answer.status().is_success() {
            // The client retries the whole call, held-back requests included.
            return answer;
        }
        let (parts, body) = answer.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let output = serde_json::from_slice(&body).unwrap_or(Value::Object(Map::new()));
        (Response::from_parts(parts, Full::default()), output)
    };
    let unprocessed = output
        .as_object_mut()
        .expect("BatchWriteItem answers with an object")
        .entry("UnprocessedItems")
        .or_insert_with(|| Value::Object(Map::new()));
    for (table, requests) in held {
        let entry = unprocessed
            .as_object_mut()
            .expect("UnprocessedItems is an object")
            .entry(table)
            .or_insert_with(|| Value::Array(Vec::new()));
        entry
            .as_array_mut()
            .expect("a table's unprocessed items are a list")
            .extend(requests);
    }
    let body = serde_json::to_vec(&output).expect("JSON serializes");
    let headers = answer.headers_mut();
    headers.insert(CONTENT_LENGTH, body.len().into());
    // The checksum of the upstream's body, which this one is not.
    headers.remove("x-amz-crc32");
    *answer.body_mut() = Full::new(body.into());
    answer
}

/// Removes the last `n` write requests of `input["RequestItems"]` (tables in order, the
/// last first): table -> requests, in their original order.
fn hold_back(input: &mut Value, n: usize) -> Vec<(String, Vec<Value>)> {
    let mut held = Vec::new();
    let Some(tables) = input.get_mut("RequestItems").and_then(Value::as_object_mut) else {
        return held;
    };
    let mut wanted = n;
    for (table, requests) in tables.iter_mut().rev() {
        let Some(requests) = requests.as_array_mut() else {
            continue;
        };
        let take = wanted.min(requests.len());
        if take > 0 {
            held.push((table.clone(), requests.split_off(requests.len() - take)));
            wanted -= take;
        }
    }
    tables.retain(|_, requests| requests.as_array().is_none_or(|r| !r.is_empty()));
    held
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const REQUEST: &str = "POST / HTTP/1.1\r\nhost: x\r\nx-amz-target: DynamoDB_20120810.GetItem\r\ncontent-length: 2\r\n\r\n{}";

    /// An upstream answering `{}` to each connection's one request; counts them.
    async fn upstream() -> (String, Arc<Mutex<usize>>) {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(0));
        let counter = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = vec![0; 4096];
                let _ = stream.read(&mut buf).await;
                *counter.lock().unwrap() += 1;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                    .await;
            }
        });
        (endpoint, seen)
    }

    /// Everything the proxy sends back on a connection carrying one request.
    async fn raw_answer(proxy: &FaultProxy) -> String {
        let mut stream = TcpStream::connect(proxy.address).await.unwrap();
        stream.write_all(REQUEST.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    #[tokio::test]
    async fn drops_close_the_connection_without_a_byte_and_forward_only_after() {
        let (endpoint, seen) = upstream().await;
        let proxy = FaultProxy::start(&endpoint).await.unwrap();
        proxy.inject(
            "GetItem",
            [Fault::DropBeforeForward, Fault::DropAfterForward],
        );
        assert_eq!(raw_answer(&proxy).await, "");
        assert_eq!(*seen.lock().unwrap(), 0);
        assert_eq!(raw_answer(&proxy).await, "");
        assert_eq!(*seen.lock().unwrap(), 1);
        assert_eq!(proxy.injected("GetItem"), 2);
    }

    #[tokio::test]
    async fn throttles_then_passes_through() {
        let (endpoint, seen) = upstream().await;
        let proxy = FaultProxy::start(&endpoint).await.unwrap();
        proxy.inject("GetItem", [Fault::Throttle]);
        let mut stream = TcpStream::connect(proxy.address).await.unwrap();
        let mut buf = vec![0; 4096];
        for expected in ["400", "200"] {
            stream.write_all(REQUEST.as_bytes()).await.unwrap();
            let n = stream.read(&mut buf).await.unwrap();
            let answer = String::from_utf8_lossy(&buf[..n]);
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {expected}")),
                "{answer}"
            );
        }
        assert_eq!((*seen.lock().unwrap(), proxy.requests("GetItem")), (1, 2));
    }

    #[test]
    fn hold_back_takes_the_last_requests() {
        let mut input = serde_json::json!({"RequestItems": {"t": [1, 2, 3]}});
        assert_eq!(
            hold_back(&mut input, 2),
            [("t".into(), vec![2.into(), 3.into()])]
        );
        assert_eq!(input, serde_json::json!({"RequestItems": {"t": [1]}}));
        assert_eq!(hold_back(&mut input, 5), [("t".into(), vec![1.into()])]);
        assert_eq!(input, serde_json::json!({"RequestItems": {}}));
    }
}
