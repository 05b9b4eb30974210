//! `POST /predict`, the model *as* a service: the instances in the body are scored in one
//! call and answered in order; with `"explain": true`, each with its explanation; with
//! `?model=challenger`, by the challenger.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use scoring::Prediction;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::answer::{row_explanation, Answer};
use crate::capture::Rows;
use crate::http::limits::MAX_INSTANCES;
use crate::http::{bounded_body, json_response, ApiError};
use crate::pick::Pick;

#[derive(Deserialize)]
struct PredictRequest {
    instances: Vec<Value>,
    /// `true` adds each answer's explanation; absent, `null` or `false`, none.
    #[serde(default)]
    explain: Option<Value>,
}

#[derive(Serialize)]
struct Predictions<'a> {
    predictions: Vec<Answer<'a>>,
    model_version: &'a str,
}

/// `pick`'s model scores the instances; the challenger's shadow, if any, scores the same
/// instances once the answer is made.
pub fn answer(pick: Pick<'_>, body: &Body) -> Result<Response<Body>, ApiError> {
    let Pick {
        model,
        mut observer,
        shadow,
        capture,
    } = pick;
    let request: PredictRequest = serde_json::from_slice(bounded_body(body)?).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be JSON like {{\"instances\": [{{\"<feature>\": <number, string \
             or null>, ...}}]}}: {e}"
        ))
    })?;
    let explain = match &request.explain {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "explain must be true or false, not {other}"
            )))
        }
    };
    if explain {
        model.explainability().map_err(ApiError::unexplainable)?;
    }
    match request.instances.len() {
        0 => return Err(ApiError::bad_request("instances is empty; send 1 to 1000")),
        n if n > MAX_INSTANCES => {
            return Err(ApiError::too_large(format!(
                "{n} instances; at most {MAX_INSTANCES} per request"
            )))
        }
        _ => {}
    }
    let schema = model.schema();
    let mut batch = schema.batch(request.instances.len());
    for (i, instance) in request.instances.iter().enumerate() {
        let row: &Map<String, Value> = instance
            .as_object()
            .ok_or_else(|| ApiError::unprocessable(format!("instance {i} is not a JSON object")))?;
        schema
            .read_row(row, &mut batch)
            .map_err(|e| ApiError::row(e.at_row(i), "instance"))?;
    }
    let scored = model
        .score(&batch, &mut observer)
        .map_err(ApiError::scoring)?;
    let captured = |challenger| Rows {
        model,
        batch: &batch,
        scored: &scored,
        challenger,
    };
    if let Some(&(i, failure)) = scored.failures().first() {
        if let Some(capture) = capture {
            capture.write(&captured(None));
        }
        return Err(ApiError::row_failure(failure, &format!("instance {i}")));
    }
    let answers: Vec<Prediction> = scored.answers().iter().collect();
    let mut predictions: Vec<Answer> = answers.iter().map(Answer::of).collect();
    let explanations;
    if explain {
        explanations = model.explain(&batch, &scored).map_err(ApiError::explain)?;
        for (i, answer) in predictions.iter_mut().enumerate() {
            let row = row_explanation(&explanations, i)?;
            // `Answer` is a few words: taken out and put back explained.
            *answer = std::mem::replace(answer, Answer::Score(0.0)).explained(row);
        }
    }
    let response = json_response(
        StatusCode::OK,
        &Predictions {
            predictions,
            model_version: model.version(),
        },
    );
    let challenger = shadow.map(|shadow| {
        shadow.run(&batch, &scored, |i, schema, batch| {
            // Every instance is an object: the model read it.
            match request.instances[i].as_object() {
                Some(row) => schema.read_row(row, batch),
                None => unreachable!("instance {i} was read as an object"),
            }
        })
    });
    if let Some(capture) = capture {
        capture.write(&captured(challenger.as_ref()));
    }
    Ok(response)
}
