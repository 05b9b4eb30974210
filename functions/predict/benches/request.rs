//! The warm request path with no I/O: an API Gateway event in, the JSON response out,
//! with the demo model and an in-memory attribute store.

use criterion::{criterion_group, criterion_main, Criterion};
use lambda_http::Request;
use predict::App;
use scoring::Model;
use testkit::memory::InMemoryAttributes;

fn repository() -> std::path::PathBuf {
    testkit::moto::repository_root()
}

fn event(file: &str) -> String {
    std::fs::read_to_string(repository().join("events").join(file)).unwrap()
}

fn app() -> App<InMemoryAttributes> {
    let model = Model::load(
        &std::fs::read(repository().join("model/wine_quality.onnx")).unwrap(),
        "bench",
    )
    .unwrap();
    // The wines as the DynamoDB adapter reads them.
    let rows = testkit::demo_data::repository_wines()
        .unwrap()
        .into_iter()
        .filter_map(aws_adapter::dynamodb::scanned_row)
        .map(|scanned| (scanned.product_id, scanned.row))
        .collect();
    App::new(
        model,
        InMemoryAttributes {
            rows,
            failure: None,
        },
    )
}

fn warm_requests(c: &mut Criterion) {
    let app = app();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("warm_request");
    for (name, file) in [
        ("get_predict", "predict-get.json"),
        ("post_predict_2", "predict-post.json"),
        ("health", "health.json"),
    ] {
        let json = event(file);
        // Event JSON -> http::Request (what lambda_http does per invoke) -> handler -> body.
        group.bench_function(name, |b| {
            b.iter(|| {
                let request: Request = lambda_http::request::from_str(&json).unwrap();
                let response = runtime.block_on(app.handle(request));
                assert_eq!(response.status(), 200);
                response
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = warm_requests
}
criterion_main!(benches);
