//! `GET /predictions/{product_id}`, offline inference read back: the nightly run's stored
//! result, with the run it comes from and whether that run is the latest completed one. A
//! product the latest run rejected, or that left the attribute table, still has an older
//! run's item, answered with `from_latest_completed_run: false`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use scoring::RowFailure;
use serde::Serialize;

use crate::answer::ProductAnswer;
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
        },
    ))
}
