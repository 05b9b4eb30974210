//! Values the model cannot take: 422 naming the row (and the feature).

use super::*;

#[tokio::test]
async fn values_the_model_cannot_take_are_422_naming_row_and_feature() {
    // FP64 data beyond f32 for a float feature: the request is well formed, the value not.
    let request = edited(|i| {
        let t = tensor(i, "alcohol");
        t["datatype"] = json!("FP64");
        t["data"] = json!([9.4, 1e300]);
    });
    let (status, body) = infer(&demo_app(), &request).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("row 1: feature `alcohol` is not a finite number ("),
        "{body}"
    );

    // Finite values the model overflows on.
    let app = matrix_app();
    let input = app.model().schema().input_names()[0].clone();
    let request = json!({"inputs": [{"name": input, "shape": [2, 8], "datatype": "FP32",
        "data": [[1, 1, 1, 1, 1, 1, 1, 1], [3e38, 3e38, 3e38, 3e38, 3e38, 3e38, 3e38, 3e38]]}]});
    let (status, body) = infer(&app, &request).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("row 1: the model's answer is not a finite number"),
        "{body}"
    );
}

#[tokio::test]
async fn a_category_the_model_refuses_is_422_naming_the_row() {
    let model = Model::load(&testkit::models::strict_categorical_model(), "strict").unwrap();
    let app = app_for(model, "strict");
    let known = testkit::models::strict_categorical_row();
    let mut unknown = known.clone();
    unknown.insert("color".into(), json!("never-seen"));
    let rows = [known.clone(), unknown];
    let (status, body) = infer(&app, &json!({"inputs": tensors(&app, &rows)})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with("row 1:") && error.contains("handle_unknown"),
        "{error}"
    );
    // And the known row alone is answered as POST /predict answers it.
    let posted = post_predict(&app, std::slice::from_ref(&known)).await;
    let (status, body) = infer(&app, &json!({"inputs": tensors(&app, &[known])})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(output(&body, "predict")["data"], posted["predictions"]);
}
