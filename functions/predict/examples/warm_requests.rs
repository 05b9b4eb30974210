//! A fixed number of warm requests, for instruction counts that the machine's load does
//! not move: `valgrind --tool=callgrind` over two runs with different counts gives the
//! instructions of one request (their difference over the difference of the counts), with
//! the metrics recorder off or on (each request then flushes its EMF lines to /dev/null,
//! as `serve` flushes them to stdout).
//!
//! `cargo build --profile profiling -p predict --example warm_requests`, then
//! `valgrind --tool=callgrind target/profiling/examples/warm_requests get on 1000`
//! (`get` or `post`, `off` or `on`, the number of requests; a fourth argument,
//! `challenger`, puts the refit challenger beside the model, as the bench's `challenger`
//! group does).

use lambda_http::Request;
use predict::App;
use scoring::Model;
use testkit::memory::InMemoryAttributes;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (route, metrics, count, challenger) = match &args[..] {
        [route, metrics, count] => (route, metrics, count, false),
        [route, metrics, count, c] if c == "challenger" => (route, metrics, count, true),
        _ => {
            eprintln!("usage: warm_requests get|post off|on COUNT [challenger]");
            std::process::exit(2);
        }
    };
    let root = testkit::moto::repository_root();
    let event = std::fs::read_to_string(root.join("events").join(match route.as_str() {
        "get" => "predict-get.json",
        _ => "predict-post.json",
    }))
    .unwrap();
    let event = if route == "post" {
        // One instance, as the bench's one-row POST.
        let mut event: serde_json::Value = serde_json::from_str(&event).unwrap();
        let mut body: serde_json::Value =
            serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
        body["instances"].as_array_mut().unwrap().truncate(1);
        event["body"] = body.to_string().into();
        event.to_string()
    } else {
        event
    };
    let emf = (metrics == "on").then(|| {
        let emf = aws_adapter::emf::Emf::install("Bench", "bench").unwrap();
        predict::telemetry::describe();
        emf
    });
    let model = Model::load(
        &std::fs::read(root.join("model/wine_quality.onnx")).unwrap(),
        "v1",
    )
    .unwrap();
    let rows = testkit::demo_data::repository_wines()
        .unwrap()
        .into_iter()
        .filter_map(aws_adapter::dynamodb::scanned_row)
        .map(|scanned| (scanned.product_id, scanned.row))
        .collect();
    let app = App::new(
        model,
        InMemoryAttributes {
            rows,
            failure: None,
        },
        "wine-quality",
    );
    let app = if challenger {
        let refit = testkit::models::challenger(testkit::models::challengers::REFIT);
        app.with_challenger(Model::load(&refit, "v2").unwrap())
    } else {
        app
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut null = std::fs::File::create("/dev/null").unwrap();
    for _ in 0..count.parse::<usize>().unwrap() {
        let request: Request = lambda_http::request::from_str(&event).unwrap();
        let response = runtime.block_on(app.handle(request));
        assert_eq!(response.status(), 200);
        if let Some(emf) = &emf {
            let mut lines = Vec::with_capacity(2048);
            emf.flush_to(&mut lines).unwrap();
            std::io::Write::write_all(&mut null, &lines).unwrap();
        }
    }
}
