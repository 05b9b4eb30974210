//! The server at the wire level: raw requests on fresh connections, so that chunked bodies,
//! trailers, bad HTTP and dropped connections are exactly what the test says.

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::*;

const NEXT: &str = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";

struct Answer {
    status: u16,
    /// Names lower-cased.
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

/// One request on a fresh connection, kept open until the answer is read (a client that
/// closes its side has gone away).
async fn call(address: &str, request: &str) -> Answer {
    let mut stream = BufReader::new(TcpStream::connect(address).await.unwrap());
    stream
        .get_mut()
        .write_all(request.as_bytes())
        .await
        .unwrap();
    let mut line = String::new();
    stream.read_line(&mut line).await.unwrap();
    let status = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        stream.read_line(&mut line).await.unwrap();
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break;
        };
        headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
    }
    let length = headers
        .get("content-length")
        .map_or(0, |v| v.parse().unwrap());
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    Answer {
        status,
        headers,
        body,
    }
}

/// [`call`] in a task of its own, for a caller the test answers as the function.
fn spawn_call(address: &str, request: String) -> tokio::task::JoinHandle<Answer> {
    let address = address.to_owned();
    tokio::spawn(async move { call(&address, &request).await })
}

fn post(path: &str, headers: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn respond(id: &str, body: &str) -> String {
    post(
        &format!("/2018-06-01/runtime/invocation/{id}/response"),
        "",
        body,
    )
}

const INVOKE: &str =
    "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Ab%3Alive/invocations";

#[tokio::test]
async fn an_event_goes_out_on_next_and_its_response_comes_back() {
    let api = RuntimeApi::start().await.unwrap();
    let address = api.address();
    let pending = api.push(&b"{\"hello\":1}"[..]);
    let next = call(&address, NEXT).await;
    assert_eq!(next.status, 200);
    assert_eq!(next.body, b"{\"hello\":1}");
    let id = next.header("lambda-runtime-aws-request-id");
    assert_eq!(id, pending.request_id);
    assert!(next
        .header("lambda-runtime-deadline-ms")
        .parse::<u64>()
        .is_ok());
    assert!(next
        .header("lambda-runtime-invoked-function-arn")
        .starts_with("arn:"));
    assert!(next.header("lambda-runtime-trace-id").starts_with("Root="));

    // A chunked body, as a streaming client sends it.
    let answer = call(
        &address,
        &format!(
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\n\
             Transfer-Encoding: chunked\r\n\r\n3\r\n{{\"a\r\n4\r\n\":2}}\r\n0\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(answer.status, 202);
    let done = pending.wait().await.unwrap();
    assert_eq!(done.outcome, Outcome::Response(b"{\"a\":2}".to_vec()));
    assert!(done.completed >= done.handed_out);
    let status = api.status();
    assert_eq!(status.polls, 1);
    assert_eq!(api.polls(), [status.first_poll.unwrap()]);
    assert_eq!(status.first_poll, status.last_poll);
    assert!(api.protocol_errors().is_empty());
    api.shutdown().await;
}

#[tokio::test]
async fn a_streamed_response_that_failed_ends_in_its_error_trailers() {
    let api = RuntimeApi::start().await.unwrap();
    let pending = api.push(&b"{}"[..]);
    let next = call(&api.address(), NEXT).await;
    let id = next.header("lambda-runtime-aws-request-id");
    let answer = call(
        &api.address(),
        &format!(
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\n\
             Transfer-Encoding: chunked\r\nTrailer: Lambda-Runtime-Function-Error-Type\r\n\r\n\
             2\r\nok\r\n0\r\nLambda-Runtime-Function-Error-Type: Runtime.Broken\r\n\
             Lambda-Runtime-Function-Error-Body: b64\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(answer.status, 202);
    let done = pending.wait().await.unwrap();
    let error = done.response().unwrap_err();
    assert_eq!(error.error_type.as_deref(), Some("Runtime.Broken"));
    assert_eq!(error.body, "b64");
}

#[tokio::test]
async fn an_asynchronous_invoke_becomes_the_next_event() {
    let api = RuntimeApi::start().await.unwrap();
    let address = api.address();
    let payload = r#"{"continuation":1}"#;
    let answer = call(
        &address,
        &post(INVOKE, "X-Amz-Invocation-Type: Event\r\n", payload),
    )
    .await;
    assert_eq!(answer.status, 202);
    assert!(answer.body.is_empty());
    let invoked = api
        .next_async_invocation(Duration::from_secs(5))
        .await
        .expect("the invoke is reported");
    assert_eq!(
        invoked.function,
        "arn:aws:lambda:us-east-1:1:function:b:live"
    );
    let next = call(&address, NEXT).await;
    assert_eq!(next.body, payload.as_bytes());
    let id = next.header("lambda-runtime-aws-request-id");
    assert_eq!(id, invoked.pending.request_id);
    call(&address, &respond(id, "{}")).await;
    let done = invoked.pending.wait().await.unwrap();
    assert_eq!(done.outcome, Outcome::Response(b"{}".to_vec()));
    assert!(api
        .next_async_invocation(Duration::from_millis(10))
        .await
        .is_none());
    assert!(api.protocol_errors().is_empty());
}

#[tokio::test]
async fn a_synchronous_invoke_answers_with_the_function_response() {
    let api = RuntimeApi::start().await.unwrap();
    let address = api.address();
    // No invocation type: RequestResponse, as the SDK sends it by default.
    let caller = spawn_call(&address, post(INVOKE, "", r#"{"n":1}"#));
    let next = call(&address, NEXT).await;
    assert_eq!(next.body, br#"{"n":1}"#);
    let id = next.header("lambda-runtime-aws-request-id");
    call(&address, &respond(id, r#"{"answer":42}"#)).await;
    let answer = caller.await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, br#"{"answer":42}"#);
    assert_eq!(answer.header("x-amz-function-error"), "");
    // A synchronous call is answered, not reported as an event the function sent itself.
    assert!(api
        .next_async_invocation(Duration::from_millis(10))
        .await
        .is_none());
    assert!(api.protocol_errors().is_empty());
}

#[tokio::test]
async fn a_synchronous_invoke_of_a_failing_function_answers_200_with_its_error() {
    let api = RuntimeApi::start().await.unwrap();
    let address = api.address();
    let request = post(INVOKE, "X-Amz-Invocation-Type: RequestResponse\r\n", "{}");
    let caller = spawn_call(&address, request);
    let next = call(&address, NEXT).await;
    let id = next.header("lambda-runtime-aws-request-id");
    let error = r#"{"errorType":"ScoringError","errorMessage":"no model"}"#;
    let path = format!("/2018-06-01/runtime/invocation/{id}/error");
    let headers = "Lambda-Runtime-Function-Error-Type: ScoringError\r\n";
    assert_eq!(
        call(&address, &post(&path, headers, error)).await.status,
        202
    );
    let answer = caller.await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("x-amz-function-error"), "Unhandled");
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"errorType": "ScoringError", "errorMessage": "no model"})
    );

    // An error body that is not JSON still answers in Lambda's shape.
    let caller = spawn_call(&address, post(INVOKE, "", "{}"));
    let next = call(&address, NEXT).await;
    let id = next.header("lambda-runtime-aws-request-id");
    let path = format!("/2018-06-01/runtime/invocation/{id}/error");
    call(&address, &post(&path, "", "it broke")).await;
    let answer = caller.await.unwrap();
    assert_eq!(answer.header("x-amz-function-error"), "Unhandled");
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"errorType": "Unhandled", "errorMessage": "it broke"})
    );
    assert!(api.protocol_errors().is_empty());
}

#[tokio::test]
async fn init_and_invocation_errors_are_reported() {
    let api = RuntimeApi::start().await.unwrap();
    let address = api.address();
    let body = r#"{"errorType":"x","errorMessage":"no model"}"#;
    let headers = "Lambda-Runtime-Function-Error-Type: Runtime.InitError\r\n";
    let answer = call(
        &address,
        &post("/2018-06-01/runtime/init/error", headers, body),
    )
    .await;
    assert_eq!(answer.status, 202);
    let error = api.wait_for_poll(1).await.unwrap_err();
    assert_eq!(error.error_type.as_deref(), Some("Runtime.InitError"));
    assert_eq!(error.body, body);
    assert_eq!(api.init_error(), Some(error));

    let pending = api.push(Vec::new());
    let next = call(&address, NEXT).await;
    assert!(next.body.is_empty());
    let id = next.header("lambda-runtime-aws-request-id");
    let path = format!("/2018-06-01/runtime/invocation/{id}/error");
    call(&address, &post(&path, "", "{}")).await;
    let done = pending.wait().await.unwrap();
    assert!(matches!(done.outcome, Outcome::Error(_)));
    assert!(api.protocol_errors().is_empty());
}

#[tokio::test]
async fn requests_it_cannot_serve_are_protocol_errors() {
    let api = RuntimeApi::start().await.unwrap();
    let address = api.address();
    let answer = call(&address, &respond("nope", "{}")).await;
    assert_eq!(answer.status, 400);
    let answer = call(&address, "GET /2018-06-01/runtime/nothing HTTP/1.1\r\n\r\n").await;
    assert_eq!(answer.status, 404);
    let answer = call(
        &address,
        &post(INVOKE, "X-Amz-Invocation-Type: Later\r\n", ""),
    )
    .await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.header("x-amzn-errortype"),
        "InvalidParameterValueException"
    );
    let answer = call(&address, "NOT HTTP AT ALL\r\n\r\n").await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        api.protocol_errors()[..3],
        [
            "response for unknown invocation nope".to_owned(),
            "unexpected GET /2018-06-01/runtime/nothing".to_owned(),
            "Later invocation of arn:aws:lambda:us-east-1:1:function:b:live".to_owned(),
        ]
    );
    // Recorded once hyper has given up on the connection.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let errors = api.protocol_errors();
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors[3].starts_with("unreadable request"), "{errors:?}");
}

#[tokio::test]
async fn an_event_queued_after_its_poller_left_goes_to_the_next_poll() {
    let api = RuntimeApi::start().await.unwrap();
    let address = api.address();
    // A poller that gives up while waiting: it closes its connection.
    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream.write_all(NEXT.as_bytes()).await.unwrap();
    api.wait_for_poll(1).await.unwrap();
    drop(stream);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let pending = api.push(&b"{}"[..]);
    let next = call(&address, NEXT).await;
    assert_eq!(
        next.header("lambda-runtime-aws-request-id"),
        pending.request_id
    );
    assert_eq!(api.status().polls, 2);
    assert!(
        api.protocol_errors().is_empty(),
        "a client closing its connection is not a protocol error"
    );
}

#[tokio::test]
async fn pending_invocations_fail_once_the_api_stops() {
    let api = RuntimeApi::start().await.unwrap();
    let pending = api.push(&b"{}"[..]);
    api.shutdown().await;
    let stopped = tokio::time::timeout(Duration::from_secs(5), pending.wait())
        .await
        .expect("settled when the server stops");
    assert!(matches!(stopped, Err(RuntimeApiError::Stopped(_))));
}
