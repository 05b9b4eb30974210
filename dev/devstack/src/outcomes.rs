//! `make dev` closes the loop: what really happened to some wines (their rated quality,
//! from the data set the demo products come from) goes to the regressor's `POST /outcomes`,
//! by product id and by the request id of a captured `POST /predict`; a second night joins
//! them with the first night's stored results and the captured online answers, and its
//! summary's accuracy is printed.

use testkit::moto::{repository_root, Moto};
use testkit::runtime_api::RuntimeApi;
use testkit::stack;

use crate::captures::{CAPTURE_BUCKET, CAPTURE_PREFIX};
use crate::http;
use crate::nightly::{self, Night};

/// Wines with an outcome: about a tenth of the 1,599.
const WINES_WITH_OUTCOMES: usize = 160;
/// The second night's output, beside the first's.
const SECOND_LOG: &str = "batch-accuracy.log";

/// `captured_post`: the request id of a captured one-row `POST /predict` of wine-0001's
/// attributes, and that wine's quality is posted for it too.
pub async fn close_the_loop(
    moto: &Moto,
    api: &RuntimeApi,
    port: u16,
    captured_post: Option<&str>,
) -> Result<(), String> {
    let qualities = red_wine_qualities()?;
    let observed_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut outcomes: Vec<serde_json::Value> = qualities
        .iter()
        .take(WINES_WITH_OUTCOMES)
        .enumerate()
        .map(|(row, quality)| {
            serde_json::json!({
                "product_id": testkit::demo_data::product_id(row),
                "outcome": quality,
                "observed_at": observed_at,
            })
        })
        .collect();
    if let Some(request_id) = captured_post {
        outcomes.push(serde_json::json!({
            "request_id": request_id,
            "row": 0,
            "outcome": qualities[0],
            "observed_at": observed_at,
        }));
    }
    let body = serde_json::Value::Array(outcomes).to_string();
    let (status, answer) = http::call(port, "POST", "/outcomes", Some(&body))
        .await
        .map_err(|e| format!("POST /outcomes: {e}"))?;
    if status != 200 {
        return Err(format!("POST /outcomes answered {status}: {answer}"));
    }
    println!(
        "\nClosing the loop: the rated quality of wine-0001 .. wine-{WINES_WITH_OUTCOMES:04} \
         {}posted to POST /outcomes (table {}): {answer}",
        if captured_post.is_some() {
            "and of the captured POST /predict's wine (by its request id) "
        } else {
            ""
        },
        stack::OUTCOMES_TABLE
    );
    println!(
        "a second nightly run joins them with the first night's stored results and the \
         captured online answers (its output: {})",
        crate::logs::shown(&crate::logs::dir()?.join(SECOND_LOG))
    );
    let summary = nightly::nightly_batch(
        moto,
        api,
        Night {
            log: SECOND_LOG,
            machine: "nightly-accuracy",
            env: vec![
                ("CAPTURE_BUCKET", CAPTURE_BUCKET.to_owned()),
                ("CAPTURE_PREFIX", CAPTURE_PREFIX.to_owned()),
            ],
            // The next night (the sample event's is the first).
            scheduled_at: Some("2026-11-25T02:00:00Z"),
        },
    )
    .await?;
    print_accuracy(&summary["accuracy"]);
    Ok(())
}

/// The `quality` column of the red wines, in product order.
fn red_wine_qualities() -> Result<Vec<f64>, String> {
    let path = repository_root().join("model/data/winequality-red.csv");
    let csv = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    csv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            line.rsplit(',')
                .next()
                .and_then(|q| q.trim().parse().ok())
                .ok_or_else(|| format!("{}: a line without a quality: {line}", path.display()))
        })
        .collect()
}

/// The summary's accuracy: per model version and source (a product's latest captured online
/// answer may be the challenger's, asked for directly), the regressor's figures.
fn print_accuracy(accuracy: &serde_json::Value) {
    if accuracy.is_null() {
        println!("accuracy: no outcome arrived since the last run");
        return;
    }
    if let Some(error) = accuracy["error"].as_str() {
        println!("accuracy: could not be computed ({error}); the run scored all the same");
        return;
    }
    let reasons = match accuracy["unmatched_reasons"].as_object() {
        Some(reasons) if !reasons.is_empty() => format!(" {}", accuracy["unmatched_reasons"]),
        _ => String::new(),
    };
    println!(
        "accuracy: {} outcomes arrived since {}; {} (prediction, outcome) pairs joined, {} \
         outcomes unmatched{reasons}",
        accuracy["outcomes"],
        accuracy["since"].as_str().unwrap_or("?"),
        accuracy["joined"],
        accuracy["unmatched"],
    );
    let figure = |v: &serde_json::Value| v.as_f64().map_or("-".into(), |f| format!("{f:.3}"));
    for version in accuracy["versions"].as_array().into_iter().flatten() {
        let regressor = &version["regressor"];
        let classifier = &version["classifier"];
        if !regressor.is_null() {
            println!(
                "  model version {} ({}): {} pairs, MAE {}, RMSE {}, bias {}",
                version["model_version"].as_str().unwrap_or("?"),
                version["source"].as_str().unwrap_or("?"),
                regressor["count"],
                figure(&regressor["mae"]),
                figure(&regressor["rmse"]),
                figure(&regressor["bias"]),
            );
        } else if !classifier.is_null() {
            println!(
                "  model version {} ({}): {} pairs, accuracy {}, log loss {}",
                version["model_version"].as_str().unwrap_or("?"),
                version["source"].as_str().unwrap_or("?"),
                classifier["count"],
                figure(&classifier["accuracy"]),
                figure(&classifier["log_loss"]),
            );
        }
    }
}
