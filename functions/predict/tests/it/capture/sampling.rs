//! Which requests are captured: none at 0, all at 1, a share in between decided by the
//! request id; and a capture that cannot be written is counted, the answer unchanged.

use std::collections::BTreeSet;

use lambda_http::Request;
use predict::capture::Capture;
use testkit::emf::{sum, with};
use testkit::predict_support::demo_app;

use super::*;

/// API Gateway REST request ids look like these (UUIDs); HTTP API ids are shorter, and
/// the sampler reads either as bytes.
fn ids(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "{:08x}-7b61-11e6-9a41-{:012x}",
                i * 2_654_435_761 % (1 << 32),
                i
            )
        })
        .collect()
}

fn one_row(id: &str) -> Request {
    event("predict-post.json", id, |b| {
        b["instances"].as_array_mut().unwrap().truncate(1)
    })
}

/// The request ids captured when each of `ids` is sent once to an app capturing `r`.
async fn captured_ids(r: f64, ids: &[String]) -> BTreeSet<String> {
    let (app, sink) = capturing(r);
    for id in ids {
        let response = app.handle(one_row(id)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(request_id(&response), Some(id.as_str()));
    }
    let captured = sink.captured();
    let set: BTreeSet<String> = captured.iter().map(|c| c.request_id.clone()).collect();
    assert_eq!(set.len(), captured.len(), "one capture per request");
    set
}

#[tokio::test]
async fn rate_0_captures_none_1_all_and_0_3_within_3_points_by_request_id() {
    let ids = ids(2_000);
    assert!(captured_ids(0.0, &ids).await.is_empty());
    assert_eq!(captured_ids(1.0, &ids).await.len(), ids.len());
    let share = captured_ids(0.3, &ids).await;
    let fraction = share.len() as f64 / ids.len() as f64;
    // The sampler hashes the id: 3 points is about three standard deviations of a fair
    // coin's share over 2,000 requests.
    assert!((fraction - 0.3).abs() <= 0.03, "{fraction}");
    // The same ids, the same decisions (another sandbox, another cold start).
    assert_eq!(captured_ids(0.3, &ids).await, share);
    // A request captured at 0.3 is captured at any higher rate.
    assert!(share.is_subset(&captured_ids(0.5, &ids).await));
}

#[tokio::test]
async fn a_capture_that_cannot_be_written_leaves_the_answer_as_it_is() {
    let off = demo_app();
    let failing = demo_app().with_capture(Capture::new(rate(1.0), Failing));
    let (written, sink) = capturing(1.0);
    for (file, id) in [
        ("predict-get.json", "id-get"),
        ("predict-post.json", "id-post"),
        ("v2-infer.json", "id-infer"),
        ("rest-api-v1-predict-get.json", "id-rest"),
        ("predict-get-unknown.json", "id-404"),
    ] {
        let want = bytes(&off.handle(event(file, id, |_| {})).await);
        assert_eq!(
            bytes(&failing.handle(event(file, id, |_| {})).await),
            want,
            "{file}"
        );
        assert_eq!(
            bytes(&written.handle(event(file, id, |_| {})).await),
            want,
            "{file}"
        );
    }
    // The four that were scored, none of the unknown product.
    assert_eq!(sink.captured().len(), 4);
}

#[tokio::test]
async fn captures_written_and_dropped_are_counted() {
    testkit::alone!();
    let _turn = crate::metrics::turn().await;
    let failing = demo_app().with_capture(Capture::new(rate(1.0), Failing));
    failing
        .handle(event("predict-post.json", "id-1", |_| {}))
        .await;
    let (app, sink) = capturing(1.0);
    app.handle(event("predict-post.json", "id-2", |_| {})).await;
    app.handle(event("predict-get.json", "id-3", |_| {})).await;
    // Not sampled at 0: nothing to count.
    capturing(0.0)
        .0
        .handle(event("predict-post.json", "id-4", |_| {}))
        .await;
    assert_eq!(sink.lines().len(), 2);
    let docs = crate::metrics::flushed();
    assert_eq!(
        sum(&with(&docs, "CapturesWritten", &[]), "CapturesWritten"),
        2.0
    );
    assert_eq!(
        sum(&with(&docs, "CapturesDropped", &[]), "CapturesDropped"),
        1.0
    );
}
