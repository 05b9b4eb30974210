//! `GET /predict/{product_id}`, the model *in* the service: the product's attributes are
//! read from the attribute store and scored.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use scoring::{Model, Observer};
use store::attributes::AttributeStore;

use crate::answer::ProductAnswer;
use crate::http::{json_response, ApiError};

pub async fn answer(
    model: &Model,
    store: &impl AttributeStore,
    observer: &mut impl Observer,
    product_id: &str,
) -> Result<Response<Body>, ApiError> {
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
    let scored = model.score(&batch, observer).map_err(ApiError::scoring)?;
    let prediction = scored
        .outcome(0)
        .map_err(|failure| ApiError::row_failure(failure, &subject()))?;
    Ok(json_response(
        StatusCode::OK,
        &ProductAnswer::new(product_id, &prediction, model.version()),
    ))
}
