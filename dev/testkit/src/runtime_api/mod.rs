//! A minimal AWS Lambda Runtime API on loopback, enough for the real `lambda_runtime` client
//! of a bootstrap binary: the cold-start bench drives `target/release/predict` through it,
//! and an end-to-end test can send sample events through the real bootstrap.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use testkit::runtime_api::RuntimeApi;
//! let api = RuntimeApi::start().await?;
//! // spawn the bootstrap with AWS_LAMBDA_RUNTIME_API = api.address(), then:
//! let ready_at = api.wait_for_poll(1).await?; // its first `/next`: init is over
//! let done = api.invoke(std::fs::read("events/health.json")?).await?;
//! assert_eq!(done.http_status(), Some(200));
//! api.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Served: `GET /2018-06-01/runtime/invocation/next` (held until an event is queued;
//! answers with the event and the `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`,
//! `-Invoked-Function-Arn` and `-Trace-Id` headers), `POST .../invocation/{id}/response`,
//! `POST .../invocation/{id}/error` and `POST /2018-06-01/runtime/init/error`.
//! Also Lambda's own Invoke API for asynchronous calls
//! (`POST /2015-03-31/functions/{name}/invocations`, `X-Amz-Invocation-Type: Event`): the
//! payload is queued as the function's next event and reported by
//! [`RuntimeApi::next_async_invocation`], so a function that invokes itself (the batch
//! job's continuation) gets its event back as on Lambda. Point the function's
//! `AWS_ENDPOINT_URL_LAMBDA` at `http://` + [`RuntimeApi::address`].
//! Hand-rolled HTTP/1.1 (keep-alive, `Content-Length` or chunked bodies, trailers) on a
//! tokio listener: no HTTP server crate, so no extra features in the workspace's hyper.
//!
//! Not emulated: timeouts (the deadline header is informative), extensions, SnapStart's
//! `/restore` endpoints, and the streaming response prelude (a streamed answer is handed
//! back raw). If the function dies during an invocation, its [`PendingInvocation`] never
//! completes: wait on it with a timeout, or race it against the child process.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";
/// Lambda's Invoke API: `{FUNCTIONS}{name}/invocations`.
const FUNCTIONS: &str = "/2015-03-31/functions/";
/// Largest request body accepted from the function (Lambda's own limit is 6 MB).
const MAX_BODY: usize = 16 << 20;

/// What the Runtime API tells the function about each invocation.
#[derive(Debug, Clone)]
pub struct Options {
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub function_arn: String,
    /// `Lambda-Runtime-Deadline-Ms` is the hand-out time plus this (not enforced).
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:predict".into(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// An error the function reported, at `/init/error` or `/invocation/{id}/error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {body}", error_type.as_deref().unwrap_or("(no error type)"))]
pub struct FunctionError {
    /// The `Lambda-Runtime-Function-Error-Type` header, e.g. `Runtime.InitError`.
    pub error_type: Option<String>,
    /// Usually JSON: `{"errorType": ..., "errorMessage": ...}`.
    pub body: String,
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The body POSTed to `/invocation/{id}/response`.
    Response(Vec<u8>),
    /// What was POSTed to `/invocation/{id}/error`, or a streamed response's error trailers.
    Error(FunctionError),
}

/// One finished invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    /// When the event started to be written as the answer to a `/next` poll.
    pub handed_out: Instant,
    /// When the function's response (or error) had been read in full.
    pub completed: Instant,
    pub outcome: Outcome,
}

impl Invocation {
    /// From the event handed out to the response received.
    pub fn latency(&self) -> Duration {
        self.completed.saturating_duration_since(self.handed_out)
    }

    /// The response body, or the function's error.
    pub fn response(&self) -> Result<&[u8], &FunctionError> {
        match &self.outcome {
            Outcome::Response(body) => Ok(body),
            Outcome::Error(e) => Err(e),
        }
    }

    /// The response parsed as JSON; a message if it was an error or not JSON.
    pub fn response_json(&self) -> Result<serde_json::Value, String> {
        let body = self
            .response()
            .map_err(|e| format!("the function reported an error: {e}"))?;
        serde_json::from_slice(body).map_err(|e| {
            format!(
                "the response is not JSON ({e}): {}",
                String::from_utf8_lossy(body)
            )
        })
    }

    /// For HTTP events (API Gateway, function URLs): the response's `statusCode`.
    pub fn http_status(&self) -> Option<u16> {
        let status = self.response_json().ok()?.get("statusCode")?.as_u64()?;
        u16::try_from(status).ok()
    }

    /// For HTTP events: the response's `body`, decoded if `isBase64Encoded` (not supported:
    /// returns `None` then).
    pub fn http_body(&self) -> Option<String> {
        let json = self.response_json().ok()?;
        if json.get("isBase64Encoded").and_then(|b| b.as_bool()) == Some(true) {
            return None;
        }
        match json.get("body")? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => Some(String::new()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeApiError {
    #[error("the Runtime API stopped before invocation {0} was answered")]
    Stopped(String),
}

/// What the function has done so far.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// `/next` polls received.
    pub polls: usize,
    pub first_poll: Option<Instant>,
    pub last_poll: Option<Instant>,
    /// Set when the function POSTed to `/init/error`.
    pub init_error: Option<FunctionError>,
}

/// An event the function queued for itself through the Invoke API.
pub struct AsyncInvocation {
    /// The `FunctionName` it invoked (an ARN, possibly qualified), decoded.
    pub function: String,
    pub pending: PendingInvocation,
}

/// An event queued for the function; [`wait`](Self::wait) for its outcome.
pub struct PendingInvocation {
    pub request_id: String,
    reply: oneshot::Receiver<Invocation>,
}

impl PendingInvocation {
    pub async fn wait(self) -> Result<Invocation, RuntimeApiError> {
        self.reply
            .await
            .map_err(|_| RuntimeApiError::Stopped(self.request_id))
    }
}

struct Queued {
    request_id: String,
    event: Vec<u8>,
    reply: oneshot::Sender<Invocation>,
}

struct HandedOut {
    at: Instant,
    queued: Queued,
}

struct Shared {
    options: Options,
    queue: mpsc::UnboundedSender<Queued>,
    /// Held by the one `/next` poll being served; events go out in queue order.
    incoming: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    /// Events whose hand-out failed (the poller had gone): served before the queue.
    redeliver: Mutex<VecDeque<Queued>>,
    in_flight: Mutex<HashMap<String, HandedOut>>,
    polls: Mutex<Vec<Instant>>,
    status: watch::Sender<Status>,
    protocol_errors: Mutex<Vec<String>>,
    next_id: AtomicU64,
    async_invoked: mpsc::UnboundedSender<AsyncInvocation>,
}

/// The server; stops when shut down or dropped.
pub struct RuntimeApi {
    address: SocketAddr,
    shared: Arc<Shared>,
    status: watch::Receiver<Status>,
    server: JoinHandle<()>,
    async_invocations: tokio::sync::Mutex<mpsc::UnboundedReceiver<AsyncInvocation>>,
}

impl RuntimeApi {
    /// Listens on a free port of 127.0.0.1.
    pub async fn start() -> std::io::Result<RuntimeApi> {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (queue, incoming) = mpsc::unbounded_channel();
        let (status_tx, status) = watch::channel(Status::default());
        let (async_invoked, async_invocations) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            options,
            queue,
            incoming: tokio::sync::Mutex::new(incoming),
            redeliver: Mutex::default(),
            in_flight: Mutex::default(),
            polls: Mutex::default(),
            status: status_tx,
            protocol_errors: Mutex::default(),
            next_id: AtomicU64::new(1),
            async_invoked,
        });
        let server = tokio::spawn(accept(listener, shared.clone()));
        Ok(RuntimeApi {
            address,
            shared,
            status,
            server,
            async_invocations: tokio::sync::Mutex::new(async_invocations),
        })
    }

    /// `127.0.0.1:PORT`: the value for the function's `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    pub fn socket_address(&self) -> SocketAddr {
        self.address
    }

    /// `program` as Lambda starts a bootstrap against this API: a cleared environment with
    /// the `AWS_LAMBDA_*` variables (JSON logs), output piped, killed when dropped. Add
    /// the function's own variables with `.envs(...)`.
    pub fn command(
        &self,
        program: impl AsRef<std::ffi::OsStr>,
        function_name: &str,
    ) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(program);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", self.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// The instant of every `/next` poll so far, in order.
    pub fn polls(&self) -> Vec<Instant> {
        lock(&self.shared.polls).clone()
    }

    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// The error the function reported at `/init/error`, if it did.
    pub fn init_error(&self) -> Option<FunctionError> {
        self.status.borrow().init_error.clone()
    }

    /// Waits until the function has polled `/next` `count` times in all and returns the
    /// instant of that poll (`count = 1`: the end of its init). Fails as soon as the function
    /// reports an init error. Does not notice a function that exits without reporting one:
    /// race this against the child process.
    pub async fn wait_for_poll(&self, count: usize) -> Result<Instant, FunctionError> {
        let count = count.max(1);
        let mut status = self.status.clone();
        let snapshot = status
            .wait_for(|s| s.polls >= count || s.init_error.is_some())
            .await
            .map(|s| s.init_error.clone())
            // The sender lives in `shared`, which `self` holds: never closed here.
            .unwrap_or(None);
        if let Some(e) = snapshot {
            return Err(e);
        }
        Ok(lock(&self.shared.polls)[count - 1])
    }

    /// Queues an event for the function's next `/next` poll.
    pub fn push(&self, event: impl Into<Vec<u8>>) -> PendingInvocation {
        self.shared.push(event.into())
    }

    /// The next event the function sent itself through the Invoke API, in order; `None`
    /// if none comes within `timeout`.
    pub async fn next_async_invocation(&self, timeout: Duration) -> Option<AsyncInvocation> {
        let mut invocations = self.async_invocations.lock().await;
        tokio::time::timeout(timeout, invocations.recv())
            .await
            .ok()
            .flatten()
    }

    pub fn push_json(&self, event: &serde_json::Value) -> PendingInvocation {
        self.push(serde_json::to_vec(event).expect("a JSON value serializes"))
    }

    /// Queues an event and waits for the function's answer.
    pub async fn invoke(&self, event: impl Into<Vec<u8>>) -> Result<Invocation, RuntimeApiError> {
        self.push(event).wait().await
    }

    pub async fn invoke_json(
        &self,
        event: &serde_json::Value,
    ) -> Result<Invocation, RuntimeApiError> {
        self.push_json(event).wait().await
    }

    /// Requests the server could not make sense of (unknown paths or request ids, bad HTTP):
    /// empty when the function spoke the protocol as expected.
    pub fn protocol_errors(&self) -> Vec<String> {
        lock(&self.shared.protocol_errors).clone()
    }

    /// Stops listening and drops every connection (a function blocked in `/next` sees its
    /// connection close). Pending invocations fail with [`RuntimeApiError::Stopped`].
    pub async fn shutdown(mut self) {
        self.server.abort();
        let _ = (&mut self.server).await;
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn push(&self, event: Vec<u8>) -> PendingInvocation {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let request_id = format!("00000000-0000-4000-8000-{n:012x}");
        let (reply, receiver) = oneshot::channel();
        let queued = Queued {
            request_id: request_id.clone(),
            event,
            reply,
        };
        // The receiver lives in `self` too: the send fails only if the server task has
        // gone, and then the dropped reply sender makes `wait` report it.
        let _ = self.queue.send(queued);
        PendingInvocation {
            request_id,
            reply: receiver,
        }
    }

    fn protocol_error(&self, message: String) {
        lock(&self.protocol_errors).push(message);
    }

    /// Completes a handed-out invocation; false if the id is unknown.
    fn complete(&self, request_id: &str, outcome: Outcome) -> bool {
        let completed = Instant::now();
        let Some(handed_out) = lock(&self.in_flight).remove(request_id) else {
            return false;
        };
        let queued = handed_out.queued;
        // The caller may have stopped waiting: nothing to do then.
        let _ = queued.reply.send(Invocation {
            request_id: queued.request_id,
            handed_out: handed_out.at,
            completed,
            outcome,
        });
        true
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    // Dropped with this task on shutdown: aborts every connection.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve(stream, shared.clone()));
                }
                Err(e) => shared.protocol_error(format!("accept failed: {e}")),
            },
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

struct Request {
    method: String,
    path: String,
    /// Lower-cased names; trailers of a chunked body included.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    close: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Response {
    fn json(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    fn accepted() -> Response {
        Response::json(202, r#"{"status":"OK"}"#)
    }

    fn error(status: u16, message: &str) -> Response {
        let body = serde_json::json!({"errorType": "InvalidRequest", "errorMessage": message});
        Response::json(status, &body.to_string())
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let request = match read_request(&mut read).await {
            Ok(Some(request)) => request,
            Ok(None) => return,
            // The client went away (a killed function resets its idle connections).
            Err(e) if e.kind() != std::io::ErrorKind::InvalidData => return,
            Err(e) => {
                shared.protocol_error(format!("unreadable request: {e}"));
                let response = Response::error(400, &e.to_string());
                let _ = write_response(&mut write, &response, true).await;
                return;
            }
        };
        let close = request.close;
        let written = if request.method == "GET" && request.path == NEXT {
            next(&shared, &mut read, &mut write, close).await
        } else {
            let response = handle(&shared, request);
            write_response(&mut write, &response, close).await.is_ok()
        };
        if !written || close {
            return;
        }
    }
}

/// A `/next` poll: held until an event is queued, or the poller goes away.
async fn next(
    shared: &Shared,
    read: &mut BufReader<OwnedReadHalf>,
    write: &mut OwnedWriteHalf,
    close: bool,
) -> bool {
    let polled = Instant::now();
    lock(&shared.polls).push(polled);
    shared.status.send_modify(|s| {
        s.polls += 1;
        s.first_poll.get_or_insert(polled);
        s.last_poll = Some(polled);
    });

    let mut incoming = shared.incoming.lock().await;
    let redelivered = lock(&shared.redeliver).pop_front();
    let queued = match redelivered {
        Some(queued) => queued,
        None => tokio::select! {
            queued = incoming.recv() => match queued {
                Some(queued) => queued,
                None => return false,
            },
            // A client waiting on /next sends nothing more: readable means it closed.
            _ = read.fill_buf() => return false,
        },
    };
    drop(incoming);

    let deadline = SystemTime::now() + shared.options.timeout;
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let n = shared.next_id.load(Ordering::Relaxed);
    let response = Response {
        status: 200,
        headers: vec![
            ("Content-Type", "application/json".into()),
            ("Lambda-Runtime-Aws-Request-Id", queued.request_id.clone()),
            ("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string()),
            (
                "Lambda-Runtime-Invoked-Function-Arn",
                shared.options.function_arn.clone(),
            ),
            (
                "Lambda-Runtime-Trace-Id",
                format!("Root=1-00000000-{n:024x};Parent={n:016x};Sampled=0"),
            ),
        ],
        body: queued.event.clone(),
    };
    // In flight before it is written: the answer may come back on another connection
    // before this write returns.
    let request_id = queued.request_id.clone();
    lock(&shared.in_flight).insert(
        request_id.clone(),
        HandedOut {
            at: Instant::now(),
            queued,
        },
    );
    if write_response(write, &response, close).await.is_ok() {
        return true;
    }
    // The poller went away before taking the event: give it to the next poll.
    if let Some(handed_out) = lock(&shared.in_flight).remove(&request_id) {
        lock(&shared.redeliver).push_back(handed_out.queued);
    }
    false
}

fn handle(shared: &Shared, request: Request) -> Response {
    let path = request.path.as_str();
    if request.method == "POST" && path == INIT_ERROR {
        let error = function_error(&request);
        shared
            .status
            .send_modify(|s| s.init_error = Some(error.clone()));
        return Response::accepted();
    }
    if request.method == "POST" {
        if let Some(rest) = path.strip_prefix(INVOCATION) {
            if let Some((id, what)) = rest.split_once('/') {
                let outcome = match what {
                    "response" => Some(response_outcome(&request)),
                    "error" => Some(Outcome::Error(function_error(&request))),
                    _ => None,
                };
                if let Some(outcome) = outcome {
                    if shared.complete(id, outcome) {
                        return Response::accepted();
                    }
                    shared.protocol_error(format!("{what} for unknown invocation {id}"));
                    return Response::error(400, &format!("no invocation {id} is in flight"));
                }
            }
        }
    }
    if request.method == "POST" {
        if let Some(name) = path
            .strip_prefix(FUNCTIONS)
            .and_then(|rest| rest.strip_suffix("/invocations"))
        {
            // The SDK percent-encodes the ARN's colons.
            let function = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
            return invoke(shared, function.into_owned(), &request);
        }
    }
    shared.protocol_error(format!("unexpected {} {path}", request.method));
    Response::error(404, &format!("no route for {} {path}", request.method))
}

/// Lambda's Invoke: only asynchronous calls, which is what a function invoking itself
/// makes. Answered like Lambda: 202, empty body.
fn invoke(shared: &Shared, function: String, request: &Request) -> Response {
    let invocation_type = request
        .header("x-amz-invocation-type")
        .unwrap_or("RequestResponse");
    if invocation_type != "Event" {
        shared.protocol_error(format!("{invocation_type} invocation of {function}"));
        let body = serde_json::json!({
            "Type": "User",
            "message": format!("only InvocationType=Event is emulated, not {invocation_type}"),
        });
        return Response::json(400, &body.to_string());
    }
    let pending = shared.push(request.body.clone());
    // The receiver lives in the RuntimeApi: gone only when nobody can look any more.
    let _ = shared
        .async_invoked
        .send(AsyncInvocation { function, pending });
    Response {
        status: 202,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

fn function_error(request: &Request) -> FunctionError {
    FunctionError {
        error_type: request
            .header("lambda-runtime-function-error-type")
            .map(str::to_owned),
        body: String::from_utf8_lossy(&request.body).into_owned(),
    }
}

/// A response, unless a streamed one ended with error trailers.
fn response_outcome(request: &Request) -> Outcome {
    match request.header("lambda-runtime-function-error-type") {
        Some(error_type) => Outcome::Error(FunctionError {
            error_type: Some(error_type.to_owned()),
            body: request
                .header("lambda-runtime-function-error-body")
                .unwrap_or_default()
                .to_owned(),
        }),
        None => Outcome::Response(request.body.clone()),
    }
}

fn invalid(message: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.into())
}

/// One request, or `None` if the client closed the connection between requests.
async fn read_request(read: &mut BufReader<OwnedReadHalf>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    loop {
        line.clear();
        if read.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(format!("bad request line {:?}", line.trim_end())));
    };
    let (method, version) = (method.to_owned(), version.to_owned());
    let path = target.split('?').next().unwrap_or(target).to_owned();
    let mut headers = read_headers(read).await?;

    let header = |headers: &[(String, String)], name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let chunked = header(&headers, "transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let body = if chunked {
        let mut body = Vec::new();
        loop {
            line.clear();
            read.read_line(&mut line).await?;
            let size = line.trim().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| invalid(format!("bad chunk size {:?}", line.trim())))?;
            if size == 0 {
                headers.extend(read_headers(read).await?); // trailers
                break;
            }
            if body.len() + size > MAX_BODY {
                return Err(invalid("request body too large"));
            }
            let start = body.len();
            body.resize(start + size, 0);
            read.read_exact(&mut body[start..]).await?;
            line.clear();
            read.read_line(&mut line).await?; // the CRLF after the chunk
        }
        body
    } else {
        let length = match header(&headers, "content-length") {
            Some(v) => v
                .trim()
                .parse::<usize>()
                .map_err(|_| invalid(format!("bad content-length {v:?}")))?,
            None => 0,
        };
        if length > MAX_BODY {
            return Err(invalid("request body too large"));
        }
        let mut body = vec![0; length];
        read.read_exact(&mut body).await?;
        body
    };
    let connection = header(&headers, "connection").unwrap_or_default();
    let close = connection.contains("close")
        || (version == "HTTP/1.0" && !connection.contains("keep-alive"));
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
        close,
    }))
}

/// Header lines up to the empty line; names lower-cased.
async fn read_headers(
    read: &mut BufReader<OwnedReadHalf>,
) -> std::io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if read.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            return Ok(headers);
        }
        let (name, value) = trimmed
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {trimmed:?}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        if headers.len() > 200 {
            return Err(invalid("too many headers"));
        }
    }
}

async fn write_response(
    write: &mut OwnedWriteHalf,
    response: &Response,
    close: bool,
) -> std::io::Result<()> {
    let reason = match response.status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Unknown",
    };
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", response.status);
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&response.body);
    write.write_all(&bytes).await?;
    write.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One request on a fresh connection; returns (status line, headers, body).
    async fn call(address: &str, request: &str) -> (String, Vec<(String, String)>, Vec<u8>) {
        let stream = TcpStream::connect(address).await.unwrap();
        let (read, mut write) = stream.into_split();
        write.write_all(request.as_bytes()).await.unwrap();
        let mut read = BufReader::new(read);
        let mut status = String::new();
        read.read_line(&mut status).await.unwrap();
        let headers = read_headers(&mut read).await.unwrap();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map(|(_, v)| v.parse().unwrap())
            .unwrap();
        let mut body = vec![0; length];
        read.read_exact(&mut body).await.unwrap();
        (status.trim_end().to_owned(), headers, body)
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
        &headers.iter().find(|(n, _)| n == name).unwrap().1
    }

    #[tokio::test]
    async fn an_event_goes_out_on_next_and_its_response_comes_back() {
        let api = RuntimeApi::start().await.unwrap();
        let address = api.address();
        let pending = api.push(&b"{\"hello\":1}"[..]);
        let (status, headers, body) = call(
            &address,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(body, b"{\"hello\":1}");
        let id = header(&headers, "lambda-runtime-aws-request-id").to_owned();
        assert_eq!(id, pending.request_id);
        assert!(header(&headers, "lambda-runtime-deadline-ms")
            .parse::<u64>()
            .is_ok());
        assert!(header(&headers, "lambda-runtime-invoked-function-arn").starts_with("arn:"));
        assert!(header(&headers, "lambda-runtime-trace-id").starts_with("Root="));

        // A chunked body, as a streaming client would send it.
        let (status, _, _) = call(
            &address,
            &format!(
                "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\n\
                 Transfer-Encoding: chunked\r\n\r\n3\r\n{{\"a\r\n4\r\n\":2}}\r\n0\r\n\r\n"
            ),
        )
        .await;
        assert_eq!(status, "HTTP/1.1 202 Accepted");
        let done = pending.wait().await.unwrap();
        assert_eq!(done.outcome, Outcome::Response(b"{\"a\":2}".to_vec()));
        assert!(done.completed >= done.handed_out);
        assert_eq!(api.status().polls, 1);
        assert!(api.protocol_errors().is_empty());
        api.shutdown().await;
    }

    #[tokio::test]
    async fn an_asynchronous_invoke_becomes_the_next_event() {
        let api = RuntimeApi::start().await.unwrap();
        let address = api.address();
        let payload = r#"{"continuation":1}"#;
        let (status, _, body) = call(
            &address,
            &format!(
                "POST /2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Ab%3Alive/invocations HTTP/1.1\r\n\
                 X-Amz-Invocation-Type: Event\r\nContent-Length: {}\r\n\r\n{payload}",
                payload.len()
            ),
        )
        .await;
        assert_eq!(status, "HTTP/1.1 202 Accepted");
        assert!(body.is_empty());
        let invoked = api
            .next_async_invocation(Duration::from_secs(5))
            .await
            .expect("the invoke is reported");
        assert_eq!(
            invoked.function,
            "arn:aws:lambda:us-east-1:1:function:b:live"
        );
        let (_, headers, body) = call(
            &address,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .await;
        assert_eq!(body, payload.as_bytes());
        assert_eq!(
            header(&headers, "lambda-runtime-aws-request-id"),
            invoked.pending.request_id
        );

        // A synchronous invoke is not emulated: refused, and noted.
        let (status, _, _) = call(
            &address,
            "POST /2015-03-31/functions/b/invocations HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        assert_eq!(status, "HTTP/1.1 400 Bad Request");
        assert_eq!(
            api.protocol_errors(),
            ["RequestResponse invocation of b".to_owned()]
        );
        assert!(api
            .next_async_invocation(Duration::from_millis(10))
            .await
            .is_none());
        api.shutdown().await;
    }

    #[tokio::test]
    async fn init_and_invocation_errors_are_reported() {
        let api = RuntimeApi::start().await.unwrap();
        let address = api.address();
        let body = r#"{"errorType":"x","errorMessage":"no model"}"#;
        let (status, _, _) = call(
            &address,
            &format!(
                "POST /2018-06-01/runtime/init/error HTTP/1.1\r\n\
                 Lambda-Runtime-Function-Error-Type: Runtime.InitError\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
        .await;
        assert_eq!(status, "HTTP/1.1 202 Accepted");
        let error = api.wait_for_poll(1).await.unwrap_err();
        assert_eq!(error.error_type.as_deref(), Some("Runtime.InitError"));
        assert_eq!(error.body, body);

        let pending = api.push(Vec::new());
        let (_, headers, _) = call(
            &address,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n",
        )
        .await;
        let id = header(&headers, "lambda-runtime-aws-request-id");
        call(
            &address,
            &format!(
                "POST /2018-06-01/runtime/invocation/{id}/error HTTP/1.1\r\n\
                 Content-Length: 2\r\n\r\n{{}}"
            ),
        )
        .await;
        let done = pending.wait().await.unwrap();
        assert!(matches!(done.outcome, Outcome::Error(_)));

        let (status, _, _) = call(
            &address,
            "POST /2018-06-01/runtime/invocation/nope/response HTTP/1.1\r\n\r\n",
        )
        .await;
        assert_eq!(status, "HTTP/1.1 400 Bad Request");
        assert_eq!(api.protocol_errors().len(), 1);
    }

    #[tokio::test]
    async fn an_event_taken_by_a_poller_that_left_goes_to_the_next_poll() {
        let api = RuntimeApi::start().await.unwrap();
        let address = api.address();
        // A poller that gives up while waiting.
        let stream = TcpStream::connect(&address).await.unwrap();
        let (_read, mut write) = stream.into_split();
        write
            .write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        api.wait_for_poll(1).await.unwrap();
        drop(write);
        drop(_read);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let pending = api.push(&b"{}"[..]);
        let (_, headers, _) = call(
            &address,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n",
        )
        .await;
        assert_eq!(
            header(&headers, "lambda-runtime-aws-request-id"),
            pending.request_id
        );
    }
}
