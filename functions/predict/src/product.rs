//! `GET /predict/{product_id}`, the model *in* the service: the product's attributes are
//! read from the attribute store and scored; with `?explain=true`, explained too; with
//! `?model=challenger`, by the challenger.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use store::attributes::AttributeStore;

use crate::answer::{row_explanation, ProductAnswer};
use crate::capture::Rows;
use crate::http::{json_response, query, ApiError};
use crate::pick::Pick;

/// The values `explain` takes in the query string.
const EXPLAIN_VALUES: &str = "true, false, 1 or 0";

/// Whether the query string asks for an explanation: `explain=true|false|1|0`, given once;
/// any other value of `explain` is a 400 naming it.
pub fn explain_asked(query: Option<&str>) -> Result<bool, ApiError> {
    let words = [("true", true), ("1", true), ("false", false), ("0", false)];
    query::one_of(query, "explain", &words, false, EXPLAIN_VALUES)
}

/// `pick`'s model scores the product; the challenger's shadow, if any, scores the same
/// attributes once the answer is made.
pub async fn answer(
    pick: Pick<'_>,
    store: &impl AttributeStore,
    product_id: &str,
    explain: bool,
) -> Result<Response<Body>, ApiError> {
    let Pick {
        model,
        mut observer,
        shadow,
        capture,
    } = pick;
    // Refused before the read: nothing the product holds changes it.
    if explain {
        model.explainability().map_err(ApiError::unexplainable)?;
    }
    let row = store
        .attributes(product_id)
        .await
        .map_err(|e| ApiError::store(e, "the attribute table"))?
        .ok_or_else(|| ApiError::not_found(format!("product {product_id:?} not found")))?;
    let subject = || format!("product {product_id:?}");
    let schema = model.schema();
    let mut batch = schema.batch(1);
    schema
        .read_row(&row, &mut batch)
        .map_err(|e| ApiError::row(e, &subject()))?;
    let scored = model
        .score(&batch, &mut observer)
        .map_err(ApiError::scoring)?;
    let captured = |challenger| Rows {
        model,
        batch: &batch,
        scored: &scored,
        challenger,
    };
    let prediction = match scored.outcome(0) {
        Ok(prediction) => prediction,
        Err(failure) => {
            if let Some(capture) = capture {
                capture.write(&captured(None));
            }
            return Err(ApiError::row_failure(failure, &subject()));
        }
    };
    let answer = ProductAnswer::new(product_id, &prediction, model.version());
    let response = if explain {
        let explanations = model.explain(&batch, &scored).map_err(ApiError::explain)?;
        json_response(
            StatusCode::OK,
            &answer.explained(row_explanation(&explanations, 0)?),
        )
    } else {
        json_response(StatusCode::OK, &answer)
    };
    let challenger = shadow.map(|shadow| {
        shadow.run(&batch, &scored, |_, schema, batch| {
            schema.read_row(&row, batch)
        })
    });
    if let Some(capture) = capture {
        capture.write(&captured(challenger.as_ref()));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explain_in_the_query() {
        for (query, asked) in [
            (None, false),
            (Some(""), false),
            (Some("explain=true"), true),
            (Some("explain=1"), true),
            (Some("explain=false"), false),
            (Some("explain=0"), false),
            (Some("a=b&explain=true&c"), true),
            (Some("%65xplain=%74rue"), true),
            (Some("explain=true&explain=1"), true),
            (Some("explainer=maybe&x=explain"), false),
        ] {
            assert_eq!(explain_asked(query), Ok(asked), "{query:?}");
        }
        for query in [
            "explain=maybe",
            "explain",
            "explain=",
            "explain=TRUE",
            "explain=yes",
            "explain=true&explain=false",
        ] {
            let e = explain_asked(Some(query)).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{query}");
            assert!(e.message.contains("explain"), "{query}: {}", e.message);
            assert!(
                e.message.contains("true, false, 1 or 0"),
                "{query}: {}",
                e.message
            );
        }
    }
}
