//! `GET /predictions/{product_id}`, offline inference read back: the nightly run's stored
//! result, with the run it comes from and whether that run is the latest completed one. A
//! product the latest run rejected, or that left the attribute table, still has an older
//! run's item, answered with `from_latest_completed_run: false`. A result stored with its
//! top contributions (the batch's `EXPLAIN_TOP_K`) is answered with them; one stored with
//! a challenger's answer (the batch's `CHALLENGER_MODEL_KEY`), with `"challenger"`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use scoring::{Label, ProbabilitiesMap, RowFailure, Space};
use serde::Serialize;
use store::predictions::{ChallengerAnswer, TopContributions};

use crate::answer::{self, ProductAnswer};
use crate::http::{json_response, ApiError};
use crate::results::{Results, StoredResult};

#[derive(Serialize)]
struct StoredAnswer<'a> {
    #[serde(flatten)]
    answer: ProductAnswer<'a>,
    run_id: &'a str,
    scored_at: &'a str,
    latest_completed_run: Option<&'a str>,
    from_latest_completed_run: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    explanation: Option<StoredExplanation<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    challenger: Option<StoredChallenger<'a>>,
}

/// The challenger's stored answer: `{"score", "model_version"}` or
/// `{"label", "probabilities", "model_version"}`, as the champion's.
#[derive(Serialize)]
struct StoredChallenger<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a Label>,
    #[serde(skip_serializing_if = "Option::is_none")]
    probabilities: Option<ProbabilitiesMap<'a>>,
    model_version: &'a str,
}

impl<'a> StoredChallenger<'a> {
    /// `None` for an answer that is not finite (never written so by the batch): the
    /// champion's answer goes out without it rather than failing for the challenger.
    fn of(c: &'a ChallengerAnswer) -> Option<Self> {
        if !c.answer.is_finite() {
            return None;
        }
        let (score, label, probabilities) = answer::fields(&c.answer);
        Some(StoredChallenger {
            score,
            label,
            probabilities,
            model_version: &c.model_version,
        })
    }
}

/// `"explanation_space"`, a classifier's `"explained_class"` and `"contributions"`:
/// `[{"feature", "value"}, ...]`, largest first, as stored.
#[derive(Serialize)]
struct StoredExplanation<'a> {
    explanation_space: Space,
    #[serde(skip_serializing_if = "Option::is_none")]
    explained_class: Option<&'a Label>,
    contributions: Vec<Contribution<'a>>,
}

#[derive(Serialize)]
struct Contribution<'a> {
    feature: &'a str,
    value: f64,
}

impl<'a> StoredExplanation<'a> {
    fn of(e: &'a TopContributions) -> Self {
        StoredExplanation {
            explanation_space: e.space,
            explained_class: e.class.as_ref(),
            contributions: e
                .contributions
                .iter()
                .map(|(feature, value)| Contribution {
                    feature,
                    value: *value,
                })
                .collect(),
        }
    }
}

pub async fn answer(results: &impl Results, product_id: &str) -> Result<Response<Body>, ApiError> {
    let stored: StoredResult = results
        .lookup(product_id)
        .await
        .map_err(|e| ApiError::store(e, "the predictions table or the run log"))?
        .ok_or_else(|| {
            ApiError::not_found(format!("no nightly run has scored product {product_id:?}"))
        })?;
    let from_latest_completed_run = stored.is_current();
    let StoredResult {
        prediction,
        latest_completed_run,
    } = stored;
    if !prediction.answer.is_finite() {
        return Err(ApiError::row_failure(
            RowFailure::NotFinite,
            &format!("the stored result of product {product_id:?}"),
        ));
    }
    Ok(json_response(
        StatusCode::OK,
        &StoredAnswer {
            answer: ProductAnswer::new(product_id, &prediction.answer, &prediction.model_version),
            run_id: &prediction.run_id,
            scored_at: &prediction.scored_at,
            latest_completed_run: latest_completed_run.as_deref(),
            from_latest_completed_run,
            explanation: prediction.explanation.as_ref().map(StoredExplanation::of),
            challenger: prediction
                .challenger
                .as_ref()
                .and_then(StoredChallenger::of),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use scoring::{ClassPrediction, Prediction as Answer};
    use store::predictions::Prediction;
    use store::StoreError;

    const RUN: &str = "nightly-2026-11-24T02:00:00Z";

    struct One(Prediction);

    impl Results for One {
        async fn lookup(&self, _: &str) -> Result<Option<StoredResult>, StoreError> {
            Ok(Some(StoredResult {
                prediction: self.0.clone(),
                latest_completed_run: Some(RUN.into()),
            }))
        }
    }

    fn stored(answer: Answer, explanation: Option<TopContributions>) -> Prediction {
        Prediction {
            product_id: "wine-0042".into(),
            answer,
            model_version: "v1".into(),
            run_id: RUN.into(),
            scored_at: "2026-11-24T02:00:05.000Z".into(),
            explanation,
            challenger: None,
        }
    }

    async fn body(p: Prediction) -> serde_json::Value {
        let response = answer(&One(p), "wine-0042").await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        serde_json::from_slice(response.body()).unwrap()
    }

    #[tokio::test]
    async fn stored_contributions_are_answered_in_order_with_their_space() {
        let top = TopContributions {
            space: Space::Score,
            class: None,
            contributions: vec![("alcohol".into(), -0.41), ("sulphates".into(), 0.25)],
        };
        let body = body(stored(Answer::Score(5.25), Some(top))).await;
        assert_eq!(body["score"], 5.25, "{body}");
        assert_eq!(body["from_latest_completed_run"], true, "{body}");
        assert_eq!(body["explanation_space"], "score", "{body}");
        assert_eq!(
            body["contributions"],
            serde_json::json!([
                {"feature": "alcohol", "value": -0.41},
                {"feature": "sulphates", "value": 0.25}
            ])
        );
        assert!(body.get("explained_class").is_none(), "{body}");
    }

    #[tokio::test]
    async fn a_classifiers_contributions_name_the_class_they_explain() {
        let answer = Answer::Class(ClassPrediction {
            classes: vec![Label::Int(0), Label::Int(1)].into(),
            label: 0,
            probabilities: vec![0.75, 0.25],
        });
        let top = TopContributions {
            space: Space::Margin,
            class: Some(Label::Int(1)),
            contributions: vec![("alcohol".into(), -1.5)],
        };
        let body = body(stored(answer, Some(top))).await;
        assert_eq!(body["label"], 0, "{body}");
        assert_eq!(body["explanation_space"], "margin", "{body}");
        assert_eq!(body["explained_class"], 1, "{body}");
        assert_eq!(
            body["contributions"],
            serde_json::json!([{"feature": "alcohol", "value": -1.5}])
        );
    }

    #[tokio::test]
    async fn a_result_stored_without_contributions_is_answered_as_before() {
        let body = body(stored(Answer::Score(5.25), None)).await;
        let mut keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "from_latest_completed_run",
                "latest_completed_run",
                "model_version",
                "product_id",
                "run_id",
                "score",
                "scored_at"
            ]
        );
    }

    #[tokio::test]
    async fn a_stored_challenger_answer_is_answered_beside_the_champions() {
        let alone = body(stored(Answer::Score(5.25), None)).await;
        let mut p = stored(Answer::Score(5.25), None);
        p.challenger = Some(ChallengerAnswer {
            answer: Answer::Score(6.5),
            model_version: "v2".into(),
        });
        let mut with = body(p).await;
        assert_eq!(
            with["challenger"],
            serde_json::json!({"score": 6.5, "model_version": "v2"})
        );
        with.as_object_mut().unwrap().remove("challenger");
        assert_eq!(with, alone, "the champion's answer as without a challenger");

        let mut p = stored(Answer::Score(5.25), None);
        p.challenger = Some(ChallengerAnswer {
            answer: Answer::Class(ClassPrediction {
                classes: vec![Label::Text("high".into()), Label::Text("low".into())].into(),
                label: 1,
                probabilities: vec![0.25, 0.75],
            }),
            model_version: "grades-v1".into(),
        });
        assert_eq!(
            body(p).await["challenger"],
            serde_json::json!({
                "label": "low",
                "probabilities": {"high": 0.25, "low": 0.75},
                "model_version": "grades-v1"
            })
        );
    }

    #[tokio::test]
    async fn a_challenger_answer_not_finite_is_left_out() {
        let mut p = stored(Answer::Score(5.25), None);
        p.challenger = Some(ChallengerAnswer {
            answer: Answer::Score(f32::NAN),
            model_version: "v2".into(),
        });
        let body = body(p).await;
        assert!(body.get("challenger").is_none(), "{body}");
        assert_eq!(body["score"], 5.25);
    }
}
