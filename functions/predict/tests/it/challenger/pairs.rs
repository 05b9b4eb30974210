//! Pairs of the typed fixtures (regressors and classifiers, one matrix input or one input
//! per column, numeric, int64, double and string features, labels as text or numbers,
//! models that impute and models that refuse), one as the champion and one as the
//! challenger, each fixture champion beside [`CHALLENGERS`] others in turn (so each is a
//! challenger as often; every pair took minutes, a debug build's scoring being slow): the champion's answers to its own rows, by GET and POST, are byte for
//! byte those of the champion alone, whatever the challenger can or cannot read; and the
//! challenger called directly answers or refuses, never fails as the function's own error.

use std::collections::HashMap;

use lambda_http::http::Method;
use lambda_http::Body;
use predict::App;
use scoring::{Model, Row, Value};
use serde_json::json;
use testkit::memory::InMemoryAttributes;
use testkit::predict_support::{http, repository};

use super::bytes;

/// Rows sent per model: enough for missing values and categories, few enough for the
/// square of the fixtures.
const ROWS: usize = 4;

/// Challengers beside each champion: itself and the next fixtures, in name order.
const CHALLENGERS: usize = 5;

struct Fixture {
    name: String,
    model: Model,
    rows: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// The typed fixtures that load, with their first rows.
fn fixtures() -> Vec<Fixture> {
    let dir = repository().join("libs/scoring/tests/fixtures/typed");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".json").map(str::to_owned)
        })
        .filter(|name| dir.join(format!("{name}.onnx")).exists())
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|name| {
            let bytes = std::fs::read(dir.join(format!("{name}.onnx"))).unwrap();
            let model = Model::load(&bytes, format!("{name}-v1")).ok()?;
            let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
            let fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
            let rows = fixture["rows"]
                .as_array()?
                .iter()
                .filter_map(|r| r.as_object().cloned())
                .take(ROWS)
                .collect();
            Some(Fixture { name, model, rows })
        })
        .collect()
}

/// A JSON row as the attribute table would hold it.
fn row(json: &serde_json::Map<String, serde_json::Value>) -> Row {
    let mut row = Row::with_capacity(json.len());
    for (name, value) in json {
        let value = match value {
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap()),
            serde_json::Value::String(s) => Value::Text(s.clone()),
            serde_json::Value::Null => continue,
            _ => Value::Other("a list or a map"),
        };
        row.insert(name.clone(), value);
    }
    row
}

fn app(champion: &Fixture) -> App<InMemoryAttributes> {
    let rows: HashMap<String, Row> = champion
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("p{i}"), row(r)))
        .collect();
    App::new(
        champion.model.clone(),
        InMemoryAttributes {
            rows,
            failure: None,
        },
        "champion",
    )
}

#[tokio::test]
async fn every_pair_of_fixtures_leaves_the_champions_answers_as_they_were() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 20, "{} fixtures load", fixtures.len());
    let (mut pairs, mut answered) = (0, 0);
    for champion in &fixtures {
        let alone = app(champion);
        let body = json!({ "instances": champion.rows }).to_string();
        let requests = || {
            let mut requests: Vec<(Method, String, String)> = (0..champion.rows.len())
                .map(|i| (Method::GET, format!("/predict/p{i}"), String::new()))
                .collect();
            requests.push((Method::POST, "/predict".into(), body.clone()));
            requests
        };
        let mut expected = Vec::new();
        for (method, path, body) in requests() {
            let response = alone.handle(http(method, &path, Body::from(body))).await;
            answered += usize::from(response.status() == 200);
            expected.push(bytes(&response));
        }
        let at = fixtures
            .iter()
            .position(|f| f.name == champion.name)
            .unwrap();
        for challenger in fixtures.iter().cycle().skip(at).take(CHALLENGERS) {
            pairs += 1;
            let pair = app(champion).with_challenger(challenger.model.clone());
            for ((method, path, body), expected) in requests().into_iter().zip(&expected) {
                let response = pair
                    .handle(http(method.clone(), &path, Body::from(body.clone())))
                    .await;
                assert_eq!(
                    &bytes(&response),
                    expected,
                    "{method} {path}: champion {}, challenger {}",
                    champion.name,
                    challenger.name
                );
                let direct = format!("{path}?model=challenger");
                let response = pair
                    .handle(http(method.clone(), &direct, Body::from(body)))
                    .await;
                let status = response.status().as_u16();
                assert!(
                    status == 200 || (400..500).contains(&status),
                    "{method} {direct}: {status} {:?}: champion {}, challenger {}",
                    response.body(),
                    champion.name,
                    challenger.name
                );
            }
        }
    }
    // The champions' own rows are mostly answerable: the comparison is of answers.
    assert!(
        answered * 2 > fixtures.len() * (ROWS + 1),
        "{answered} answered"
    );
    assert_eq!(pairs, fixtures.len() * CHALLENGERS);
}
