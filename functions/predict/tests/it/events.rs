//! Every file in `events/` through the real handler, with the demo model and the 1,599
//! wines in an in-memory attribute store. (The same files run against moto in
//! the end-to-end tests, `tests/it/predict_on_moto.rs`.)

use testkit::predict_support::{demo_app, event_files, json_body, request, EXPECTED_STATUS};

#[tokio::test]
async fn every_event_file_gets_its_expected_answer() {
    let app = demo_app();
    let files = event_files();
    for (name, _) in EXPECTED_STATUS {
        assert!(
            files.iter().any(|f| f == name),
            "{name} is expected but not in events/"
        );
    }
    for file in &files {
        let expected = EXPECTED_STATUS
            .iter()
            .find(|(name, _)| name == file)
            .unwrap_or_else(|| {
                panic!("events/{file} has no expected status in testkit::predict_support::EXPECTED_STATUS")
            })
            .1;
        let response = app.handle(request(file)).await;
        assert_eq!(
            response.status().as_u16(),
            expected,
            "{file}: {:?}",
            response.body()
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{file}"
        );
        let body = json_body(&response);
        if expected == 200 && file.starts_with("v2-") {
            // The protocol's own bodies: `model_version` only in an inference response.
            assert!(
                ["live", "ready", "versions", "model_version", "extensions"]
                    .iter()
                    .any(|k| body.get(k).is_some()),
                "{file}: {body}"
            );
        } else if expected == 200 {
            assert!(body.get("model_version").is_some(), "{file}: {body}");
        } else {
            assert!(
                body["error"].as_str().is_some_and(|m| !m.is_empty()),
                "{file}: {body}"
            );
        }
    }
}
