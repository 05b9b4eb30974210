//! The events sent to the bootstrap, built before anything is timed, and the checks on
//! its answers.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use testkit::moto::repository_root;
use testkit::runtime_api::Invocation;
use testkit::{Item, PRODUCT_ID};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /predict/{id}` of the wine at this index.
    Get(usize),
    /// `POST /predict` with the attributes of the wine at this index.
    Post(usize),
}

impl Route {
    pub fn name(&self) -> &'static str {
        match self {
            Route::Get(_) => "GET /predict/{id}",
            Route::Post(_) => "POST /predict",
        }
    }
}

/// The events, serialized before anything is timed.
pub struct Workload {
    pub first: (Route, Vec<u8>),
    pub warm: Vec<(Route, Vec<u8>)>,
}

impl Workload {
    pub fn new(wines: &[Item], invokes: usize) -> Result<Workload, String> {
        let read = |name: &str| -> Result<Value, String> {
            let path = repository_root().join("events").join(name);
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
        };
        let (get, post) = (read("predict-get.json")?, read("predict-post.json")?);
        let mut n = 0;
        let mut event = |route: Route| -> Result<(Route, Vec<u8>), String> {
            n += 1;
            let value = match route {
                Route::Get(i) => get_event(&get, &product_id(&wines[i])?, n),
                Route::Post(i) => post_event(&post, &wines[i], n)?,
            };
            Ok((
                route,
                serde_json::to_vec(&value).map_err(|e| e.to_string())?,
            ))
        };
        let mut rng = SplitMix64(0x5eed_c01d_5747);
        let first = event(Route::Get(rng.below(wines.len())))?;
        let warm = (0..invokes)
            .map(|_| {
                let wine = rng.below(wines.len());
                event(if rng.below(2) == 0 {
                    Route::Get(wine)
                } else {
                    Route::Post(wine)
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Workload { first, warm })
    }
}

fn product_id(wine: &Item) -> Result<String, String> {
    match wine.get(PRODUCT_ID) {
        Some(AttributeValue::S(id)) => Ok(id.clone()),
        _ => Err(format!("a wine without {PRODUCT_ID}")),
    }
}

/// `events/predict-get.json` for another product.
fn get_event(template: &Value, product_id: &str, n: usize) -> Value {
    let mut event = template.clone();
    let path = format!("/predict/{product_id}");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["requestId"] = json!(format!("coldstart-{n}"));
    event["pathParameters"]["product_id"] = json!(product_id);
    event
}

/// `events/predict-post.json` with one instance: the wine's attributes.
fn post_event(template: &Value, wine: &Item, n: usize) -> Result<Value, String> {
    let mut instance = serde_json::Map::new();
    for (name, value) in wine {
        if let AttributeValue::N(number) = value {
            let number: f64 = number
                .parse()
                .map_err(|_| format!("{name} is {number:?}"))?;
            instance.insert(name.clone(), json!(number));
        }
    }
    let mut event = template.clone();
    event["body"] = json!(json!({ "instances": [instance] }).to_string());
    event["requestContext"]["requestId"] = json!(format!("coldstart-{n}"));
    Ok(event)
}

/// Checks each answer, and that a wine scores the same by id (attributes from DynamoDB)
/// and by value (attributes in the body).
#[derive(Default)]
pub struct ScoreCheck {
    by_id: HashMap<usize, f64>,
    by_value: HashMap<usize, f64>,
}

impl ScoreCheck {
    pub fn check(&mut self, route: &Route, done: &Invocation) -> Result<(), String> {
        let fail = |problem: String| {
            let body = done
                .response()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_else(|e| e.to_string());
            format!(
                "{} ({}): {problem}; the answer was {body}",
                route.name(),
                done.request_id
            )
        };
        let status = done.http_status();
        if status != Some(200) {
            return Err(fail(format!("status {status:?}, expected 200")));
        }
        let body: Value = done
            .http_body()
            .and_then(|b| serde_json::from_str(&b).ok())
            .ok_or_else(|| fail("the body is not JSON".into()))?;
        // A classifier (the ladder's) answers a label and probabilities: no score to compare.
        let label = &body["label"];
        if matches!(route, Route::Get(_)) && (label.is_string() || label.is_number()) {
            return Ok(());
        }
        let (wine, score, seen, other) = match *route {
            Route::Get(wine) => (
                wine,
                body["score"].as_f64(),
                &mut self.by_id,
                &self.by_value,
            ),
            Route::Post(wine) => {
                let predictions = body["predictions"].as_array().map(Vec::len);
                if predictions != Some(1) {
                    return Err(fail(format!("{predictions:?} predictions, expected 1")));
                }
                (
                    wine,
                    body["predictions"][0].as_f64(),
                    &mut self.by_value,
                    &self.by_id,
                )
            }
        };
        let score = score
            .filter(|s| s.is_finite())
            .ok_or_else(|| fail("no finite score".into()))?;
        if let Some(&other) = other.get(&wine) {
            if (score - other).abs() > 1e-4 * other.abs().max(1.0) {
                return Err(fail(format!(
                    "wine {} scores {score} here but {other} the other way",
                    wine + 1
                )));
            }
        }
        seen.insert(wine, score);
        Ok(())
    }
}

/// A seeded generator: the same workload on every run and every machine.
struct SplitMix64(u64);

impl SplitMix64 {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}
