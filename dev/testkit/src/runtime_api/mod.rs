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
//!
//! Also Lambda's own Invoke API, `POST /2015-03-31/functions/{name}/invocations`, so that
//! whatever calls the function through the SDK (Step Functions, another function, the
//! function itself) can be pointed here with `AWS_ENDPOINT_URL_LAMBDA` = `http://` +
//! [`RuntimeApi::address`]. The payload is queued as the function's next event:
//! - `X-Amz-Invocation-Type: Event`: answered 202 at once, and reported by
//!   [`RuntimeApi::next_async_invocation`], so a function that invokes itself (the batch
//!   job's continuation) gets its event back as on Lambda;
//! - `RequestResponse` (or no header): answered when the function has, with 200 and its
//!   response; a function error is a 200 too, with `X-Amz-Function-Error: Unhandled` and
//!   the `{"errorType", "errorMessage"}` body, as Lambda answers.
//!
//! [`RuntimeApi::throttle_invokes`] makes the Invoke API refuse calls as Lambda does when
//! throttled.
//!
//! Not emulated: timeouts (the deadline header is informative), extensions, SnapStart's
//! `/restore` endpoints, and the streaming response prelude (a streamed answer is handed
//! back raw). If the function dies during an invocation, its [`PendingInvocation`] (or the
//! synchronous Invoke waiting on it) never completes: wait with a timeout, or race it
//! against the child process.

mod server;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use server::Shared;

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
    /// When the event became the answer to a `/next` poll, just before it is written.
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
        let (status_tx, status) = watch::channel(Status::default());
        let (async_invoked, async_invocations) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::new(options, status_tx, async_invoked));
        let server = tokio::spawn(server::accept(listener, shared.clone()));
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
        let program = std::path::PathBuf::from(program.as_ref());
        self.launch(&crate::bootstrap::Bootstrap::native(program), function_name)
    }

    /// [`RuntimeApi::command`] for a [`Bootstrap`](crate::bootstrap::Bootstrap): a native
    /// binary, or an arm64 one under qemu-user.
    pub fn launch(
        &self,
        bootstrap: &crate::bootstrap::Bootstrap,
        function_name: &str,
    ) -> tokio::process::Command {
        let mut command = bootstrap.command();
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

    /// The next event the function sent itself through the Invoke API with
    /// `InvocationType=Event`, in order; `None` if none comes within `timeout`.
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

    /// Every invocation answered so far (by the function or as its error), in order.
    pub fn history(&self) -> Vec<Invocation> {
        lock(&self.shared.completed).clone()
    }

    /// Answers the next `count` calls of the Invoke API with Lambda's throttling error
    /// (429 `TooManyRequestsException`), without queuing their events: a transient fault
    /// of Lambda itself, which a caller's retry policy should absorb.
    pub fn throttle_invokes(&self, count: u64) {
        self.shared
            .throttled
            .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
    }

    /// Requests the server could not serve (unknown paths or request ids, unsupported
    /// invocation types, bad HTTP): empty when the function spoke the protocol as expected.
    /// A client closing its connection, even in the middle of a request, is not one.
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
