//! Captures read back from moto's S3 by `S3Captures`, delivered there as on AWS: capture
//! lines (with the function's other log lines) posted to the log group, sent by its
//! subscription filter to a Firehose delivery stream, written by the stream into the
//! capture bucket (testkit's `CapturePipeline`).

use std::time::Duration;

use aws_adapter::s3_captures::S3Captures;
use e2e::{clients, endpoint, moto_or_skip, unique};
use store::capture::{
    CaptureSource, CapturedAnswer, CapturedRequest, CapturedRow, CapturedValue, Features,
    CAPTURE_FORMAT,
};
use store::ErrorKind;
use testkit::capture_pipeline::CapturePipeline;
use testkit::resources;

/// A captured request as the predict function writes one (its serde), `rows` rows.
pub(crate) fn captured(id: &str, version: &str, rows: usize) -> CapturedRequest {
    CapturedRequest {
        capture: CAPTURE_FORMAT,
        request_id: id.into(),
        time: chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string(),
        route: "POST /predict".into(),
        model: "wine-quality".into(),
        model_version: version.into(),
        challenger_version: None,
        product_id: None,
        first_row: 0,
        rows: (0..rows)
            .map(|i| CapturedRow {
                features: Features(vec![
                    ("alcohol".into(), CapturedValue::Number(9.0 + i as f64)),
                    ("color".into(), CapturedValue::Text("red".into())),
                    ("sulphates".into(), CapturedValue::Null),
                ]),
                answer: CapturedAnswer::Score { score: 5.0 },
                challenger: None,
            })
            .collect(),
    }
}

/// A bucket and the pipeline into it, under `captures/`.
pub(crate) async fn pipeline() -> (CapturePipeline, S3Captures) {
    let c = clients().await;
    let bucket = unique("captures");
    resources::create_bucket(&c.s3, &bucket).await.unwrap();
    let pipeline = CapturePipeline::create(&endpoint(), &unique("predict"), &bucket, "captures/")
        .await
        .unwrap();
    let source = S3Captures::new(c.s3.clone(), &bucket, "captures/");
    (pipeline, source)
}

fn sorted(mut requests: Vec<CapturedRequest>) -> Vec<CapturedRequest> {
    requests.sort_by(|a, b| a.request_id.cmp(&b.request_id));
    requests
}

#[tokio::test]
async fn captures_shipped_with_other_log_lines_are_read_back_exactly() {
    moto_or_skip!();
    let (pipeline, source) = pipeline().await;
    let since = chrono::Utc::now().to_rfc3339();
    let sent: Vec<CapturedRequest> = (0..40)
        .map(|i| {
            captured(
                &format!("req-{i:03}"),
                if i % 4 == 0 { "v2" } else { "v1" },
                1 + i % 3,
            )
        })
        .collect();
    let mut lines = Vec::new();
    for request in &sent {
        lines.push(r#"{"level":"INFO","fields":{"message":"request","status":200}}"#.to_owned());
        lines.push(serde_json::to_string(request).unwrap());
        lines.push(r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]},"Requests":1}"#.to_owned());
    }
    // Several calls, as a function's lines arrive over time: several objects.
    for chunk in lines.chunks(25) {
        pipeline.ship(chunk).await.unwrap();
    }
    let read = source.captured_since(&since).await.unwrap();
    assert_eq!(read.unreadable, 0);
    assert_eq!(sorted(read.requests), sent);
    // Nothing delivered after a later time.
    let later = (chrono::Utc::now() + chrono::Duration::seconds(5)).to_rfc3339();
    let none = source.captured_since(&later).await.unwrap();
    assert!(none.requests.is_empty(), "{:?}", none.requests.len());
}

#[tokio::test]
async fn a_capture_line_cut_short_is_counted_and_the_others_are_read() {
    moto_or_skip!();
    let (pipeline, source) = pipeline().await;
    let whole = serde_json::to_string(&captured("req-1", "v1", 1)).unwrap();
    let cut = serde_json::to_string(&captured("req-2", "v1", 1)).unwrap()[..50].to_owned();
    pipeline.ship(&[whole, cut]).await.unwrap();
    let read = source.captured_since("2000-01-01T00:00:00Z").await.unwrap();
    assert_eq!(read.unreadable, 1);
    assert_eq!(read.requests.len(), 1);
}

/// More objects than one listing page (1,000 keys) holds: every page is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_of_the_listing_is_read() {
    moto_or_skip!();
    let c = clients().await;
    let bucket = unique("captures");
    resources::create_bucket(&c.s3, &bucket).await.unwrap();
    let objects = 1_005;
    let puts = (0..objects).map(|i| {
        let s3 = c.s3.clone();
        let bucket = bucket.clone();
        async move {
            let line = serde_json::to_string(&captured(&format!("req-{i:04}"), "v1", 1)).unwrap();
            resources::put_object(
                &s3,
                &bucket,
                &format!("captures/o-{i:04}"),
                line.into_bytes(),
            )
            .await
            .unwrap();
        }
    });
    futures_util::StreamExt::collect::<Vec<()>>(futures_util::StreamExt::buffer_unordered(
        futures_util::stream::iter(puts),
        16,
    ))
    .await;
    let source = S3Captures::new(c.s3.clone(), &bucket, "captures/");
    let read = tokio::time::timeout(
        Duration::from_secs(120),
        source.captured_since("2000-01-01T00:00:00+02:00"),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!((read.requests.len(), read.unreadable), (objects, 0));
}

#[tokio::test]
async fn a_missing_bucket_and_a_bad_time_are_clear_errors() {
    moto_or_skip!();
    let c = clients().await;
    let missing = S3Captures::new(c.s3.clone(), unique("no-such-bucket"), "captures/");
    let e = missing
        .captured_since("2026-12-01T00:00:00Z")
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    assert!(e.message.contains("no such bucket"), "{e}");
    let e = missing.captured_since("yesterday").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused);
    assert!(e.message.contains("not an RFC 3339 time"), "{e}");
}

#[tokio::test]
async fn an_object_over_the_limit_is_refused_by_name_before_it_is_read() {
    moto_or_skip!();
    let c = clients().await;
    let bucket = unique("captures");
    resources::create_bucket(&c.s3, &bucket).await.unwrap();
    let line = serde_json::to_string(&captured("req-1", "v1", 1)).unwrap();
    let big = format!("{line}\n").repeat(20);
    resources::put_object(&c.s3, &bucket, "captures/big", big.clone().into_bytes())
        .await
        .unwrap();
    let source = S3Captures::new(c.s3.clone(), &bucket, "captures/");
    let limited = S3Captures::new(c.s3.clone(), &bucket, "captures/").with_limit(1000);
    let e = limited
        .captured_since("2000-01-01T00:00:00Z")
        .await
        .unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::TooLarge {
            bytes: big.len() as u64
        },
        "{e}"
    );
    assert!(
        e.message.contains(&format!("s3://{bucket}/captures/big")),
        "{e}"
    );
    // Under the default limit, the same object is read (one request, written 20 times).
    let read = source.captured_since("2000-01-01T00:00:00Z").await.unwrap();
    assert_eq!((read.requests.len(), read.unreadable), (1, 0));
}
