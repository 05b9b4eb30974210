//! The HTTP side: hyper serves each connection, and the routes below answer from the state
//! the connections share with [`RuntimeApi`](super::RuntimeApi): the queue of events, the
//! invocations in flight, what the function has done.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::{
    lock, AsyncInvocation, FunctionError, Invocation, Options, Outcome, PendingInvocation, Status,
};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";
/// Lambda's Invoke API: `{FUNCTIONS}{name}/invocations`.
const FUNCTIONS: &str = "/2015-03-31/functions/";
/// Largest request body accepted (Lambda's own limit is 6 MB).
const MAX_BODY: usize = 16 << 20;
/// A header of `/error`, or of `/response` (a trailer when streamed) when it failed.
const ERROR_TYPE: &str = "lambda-runtime-function-error-type";
const ERROR_BODY: &str = "lambda-runtime-function-error-body";

type Reply = Response<Full<Bytes>>;

struct Queued {
    request_id: String,
    /// The number in the request id, reused for the trace id.
    n: u64,
    event: Vec<u8>,
    reply: oneshot::Sender<Invocation>,
}

struct HandedOut {
    at: Instant,
    reply: oneshot::Sender<Invocation>,
}

pub(super) struct Shared {
    options: Options,
    queue: mpsc::UnboundedSender<Queued>,
    /// Held by the one `/next` poll being served, so that events go out in queue order.
    incoming: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    in_flight: Mutex<HashMap<String, HandedOut>>,
    pub(super) polls: Mutex<Vec<Instant>>,
    status: watch::Sender<Status>,
    pub(super) protocol_errors: Mutex<Vec<String>>,
    next_id: AtomicU64,
    async_invoked: mpsc::UnboundedSender<AsyncInvocation>,
    /// Invoke calls still to be refused as throttled, before the function sees them.
    pub(super) throttled: AtomicU64,
    pub(super) completed: Mutex<Vec<Invocation>>,
}

impl Shared {
    pub(super) fn new(
        options: Options,
        status: watch::Sender<Status>,
        async_invoked: mpsc::UnboundedSender<AsyncInvocation>,
    ) -> Shared {
        let (queue, incoming) = mpsc::unbounded_channel();
        Shared {
            options,
            queue,
            incoming: tokio::sync::Mutex::new(incoming),
            in_flight: Mutex::default(),
            polls: Mutex::default(),
            status,
            protocol_errors: Mutex::default(),
            next_id: AtomicU64::new(1),
            async_invoked,
            throttled: AtomicU64::new(0),
            completed: Mutex::default(),
        }
    }

    pub(super) fn push(&self, event: Vec<u8>) -> PendingInvocation {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let request_id = format!("00000000-0000-4000-8000-{n:012x}");
        let (reply, receiver) = oneshot::channel();
        let queued = Queued {
            request_id: request_id.clone(),
            n,
            event,
            reply,
        };
        // The receiver lives in `self` too, so this cannot fail.
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
        let invocation = Invocation {
            request_id: request_id.to_owned(),
            handed_out: handed_out.at,
            completed,
            outcome,
        };
        lock(&self.completed).push(invocation.clone());
        // The caller may have stopped waiting: nothing to do then.
        let _ = handed_out.reply.send(invocation);
        true
    }
}

pub(super) async fn accept(listener: TcpListener, shared: Arc<Shared>) {
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

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let service = {
        let shared = shared.clone();
        service_fn(move |request| route(shared.clone(), request))
    };
    let served = http1::Builder::new()
        // A runtime client leaves its connection idle for as long as an invocation runs.
        .header_read_timeout(None)
        // A client that closes its side has gone: hyper then drops the request being
        // served, which is how a held `/next` notices its poller left.
        .half_close(false)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    // A request hyper could not parse (it has answered 400) is a protocol error; any other
    // error is the client going away, even mid-request (a killed function resets its
    // connections), which is not.
    if let Err(e) = served {
        if e.is_parse() {
            shared.protocol_error(format!("unreadable request: {e}"));
        }
    }
}

async fn route(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Reply, Infallible> {
    let (parts, body) = request.into_parts();
    let (method, path) = (parts.method, parts.uri.path());
    if method == Method::GET && path == NEXT {
        return Ok(next(&shared).await);
    }
    let (headers, body) = match read_body(&shared, parts.headers, body).await {
        Ok(read) => read,
        Err(reply) => return Ok(reply),
    };
    if method == Method::POST {
        if path == INIT_ERROR {
            let error = function_error(&headers, &body);
            shared.status.send_modify(|s| s.init_error = Some(error));
            return Ok(accepted());
        }
        if let Some((id, what)) = path
            .strip_prefix(INVOCATION)
            .and_then(|rest| rest.split_once('/'))
        {
            let outcome = match what {
                "response" => Some(response_outcome(&headers, &body)),
                "error" => Some(Outcome::Error(function_error(&headers, &body))),
                _ => None,
            };
            if let Some(outcome) = outcome {
                if shared.complete(id, outcome) {
                    return Ok(accepted());
                }
                shared.protocol_error(format!("{what} for unknown invocation {id}"));
                let message = format!("no invocation {id} is in flight");
                return Ok(runtime_error(StatusCode::BAD_REQUEST, &message));
            }
        }
        if let Some(name) = path
            .strip_prefix(FUNCTIONS)
            .and_then(|rest| rest.strip_suffix("/invocations"))
        {
            // The SDK percent-encodes the ARN's colons.
            let function = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
            return Ok(invoke(&shared, function.into_owned(), &headers, body).await);
        }
    }
    shared.protocol_error(format!("unexpected {method} {path}"));
    let message = format!("no route for {method} {path}");
    Ok(runtime_error(StatusCode::NOT_FOUND, &message))
}

/// The whole body, and the headers with a chunked body's trailers added.
async fn read_body(
    shared: &Shared,
    mut headers: HeaderMap,
    body: Incoming,
) -> Result<(HeaderMap, Vec<u8>), Reply> {
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => {
            if let Some(trailers) = collected.trailers() {
                headers.extend(trailers.clone());
            }
            Ok((headers, collected.to_bytes().to_vec()))
        }
        Err(e) if e.is::<LengthLimitError>() => {
            shared.protocol_error(format!("a request body over {MAX_BODY} bytes"));
            Err(runtime_error(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string()))
        }
        // The client went away mid-body: there is nobody to answer.
        Err(e) => Err(runtime_error(StatusCode::BAD_REQUEST, &e.to_string())),
    }
}

/// A `/next` poll: held until an event is queued. If the poller goes away meanwhile, hyper
/// sees its connection close and drops this future, before any event is taken.
async fn next(shared: &Shared) -> Reply {
    let polled = Instant::now();
    lock(&shared.polls).push(polled);
    shared.status.send_modify(|s| {
        s.polls += 1;
        s.first_poll.get_or_insert(polled);
        s.last_poll = Some(polled);
    });

    let Some(queued) = shared.incoming.lock().await.recv().await else {
        // Not while `shared` is alive: it holds a sender.
        return runtime_error(StatusCode::INTERNAL_SERVER_ERROR, "the queue is closed");
    };
    let deadline = SystemTime::now() + shared.options.timeout;
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let n = queued.n;
    let mut response = json(StatusCode::OK, queued.event);
    for (name, value) in [
        ("lambda-runtime-aws-request-id", queued.request_id.clone()),
        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            shared.options.function_arn.clone(),
        ),
        (
            "lambda-runtime-trace-id",
            format!("Root=1-00000000-{n:024x};Parent={n:016x};Sampled=0"),
        ),
    ] {
        if let Ok(value) = HeaderValue::try_from(value) {
            response.headers_mut().insert(name, value);
        }
    }
    // In flight before it is written: the answer may come back on another connection
    // before hyper has finished writing this one.
    let handed_out = HandedOut {
        at: Instant::now(),
        reply: queued.reply,
    };
    lock(&shared.in_flight).insert(queued.request_id, handed_out);
    response
}

/// Lambda's Invoke: the payload becomes the function's next event.
async fn invoke(shared: &Shared, function: String, headers: &HeaderMap, payload: Vec<u8>) -> Reply {
    let throttle = shared
        .throttled
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    if throttle.is_ok() {
        // As Lambda answers when the function's concurrency is exhausted.
        return invoke_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsException",
            "Rate Exceeded.",
        );
    }
    let invocation_type = header(headers, "x-amz-invocation-type").unwrap_or("RequestResponse");
    match invocation_type {
        "Event" => {
            let pending = shared.push(payload);
            // The receiver lives in the RuntimeApi: gone only when nobody can look any more.
            let _ = shared
                .async_invoked
                .send(AsyncInvocation { function, pending });
            with_status(StatusCode::ACCEPTED, Response::new(Full::default()))
        }
        "RequestResponse" => {
            let done = match shared.push(payload).wait().await {
                Ok(done) => done,
                Err(e) => {
                    let (status, message) = (StatusCode::SERVICE_UNAVAILABLE, e.to_string());
                    return invoke_error(status, "ServiceException", &message);
                }
            };
            let mut response = match done.outcome {
                Outcome::Response(body) => json(StatusCode::OK, body),
                Outcome::Error(error) => {
                    let mut response = json(StatusCode::OK, unhandled(&error));
                    response.headers_mut().insert(
                        "x-amz-function-error",
                        HeaderValue::from_static("Unhandled"),
                    );
                    response
                }
            };
            response.headers_mut().insert(
                "x-amz-executed-version",
                HeaderValue::from_static("$LATEST"),
            );
            response
        }
        "DryRun" => with_status(StatusCode::NO_CONTENT, Response::new(Full::default())),
        other => {
            shared.protocol_error(format!("{other} invocation of {function}"));
            let message = format!("unknown InvocationType {other}");
            invoke_error(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                &message,
            )
        }
    }
}

/// The body of a synchronous Invoke whose function failed: its error as it reported it,
/// with `errorType` and `errorMessage` filled in where it did not say.
fn unhandled(error: &FunctionError) -> Vec<u8> {
    let mut body = match serde_json::from_str(&error.body) {
        Ok(serde_json::Value::Object(body)) => body,
        _ => serde_json::Map::from_iter([("errorMessage".to_owned(), error.body.clone().into())]),
    };
    let error_type = error.error_type.as_deref().unwrap_or("Unhandled");
    body.entry("errorType").or_insert(error_type.into());
    body.entry("errorMessage").or_insert("".into());
    serde_json::to_vec(&body).expect("a JSON object serializes")
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}

fn function_error(headers: &HeaderMap, body: &[u8]) -> FunctionError {
    FunctionError {
        error_type: header(headers, ERROR_TYPE).map(str::to_owned),
        body: String::from_utf8_lossy(body).into_owned(),
    }
}

/// A response, unless a streamed one ended with error trailers.
fn response_outcome(headers: &HeaderMap, body: &[u8]) -> Outcome {
    match header(headers, ERROR_TYPE) {
        Some(error_type) => Outcome::Error(FunctionError {
            error_type: Some(error_type.to_owned()),
            body: header(headers, ERROR_BODY).unwrap_or_default().to_owned(),
        }),
        None => Outcome::Response(body.to_vec()),
    }
}

fn with_status(status: StatusCode, mut response: Reply) -> Reply {
    *response.status_mut() = status;
    response
}

fn json(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    let mut response = with_status(status, Response::new(Full::new(body.into())));
    let json = HeaderValue::from_static("application/json");
    response.headers_mut().insert(CONTENT_TYPE, json);
    response
}

fn accepted() -> Reply {
    json(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
}

/// An error of the Runtime API, shaped like Lambda's.
fn runtime_error(status: StatusCode, message: &str) -> Reply {
    let body = serde_json::json!({"errorType": "InvalidRequest", "errorMessage": message});
    json(status, body.to_string())
}

/// An error of the Invoke API itself (not the function's), shaped like Lambda's: the SDK
/// reads the error code from `X-Amzn-ErrorType`.
fn invoke_error(status: StatusCode, code: &'static str, message: &str) -> Reply {
    let body = serde_json::json!({"Type": "User", "message": message});
    let mut response = json(status, body.to_string());
    let code = HeaderValue::from_static(code);
    response.headers_mut().insert("x-amzn-errortype", code);
    // Lambda sends a request id with every answer; some clients (moto's Step Functions)
    // read it from an error.
    response.headers_mut().insert(
        "x-amzn-requestid",
        HeaderValue::from_static("00000000-0000-4000-8000-00000000e429"),
    );
    response
}
