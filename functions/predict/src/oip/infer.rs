//! Inference: the request's inputs read as rows through the model's schema, scored, and
//! answered as the protocol's outputs; explained too when `contributions` is asked for.

use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::{Body, Response};
use scoring::{Explanations, FeatureSchema, FeatureType, Observer, Predictions};
use serde_json::Value;

use super::binary::{binary_response, read_binary_inputs, split_binary};
use super::protocol::{
    flag, label_datatype, matrix_input, output_names, BinarySize, InferenceRequest,
    InferenceResponse, OutputData, RequestInput, RequestOutput, ResponseOutput, Served, Shape,
    CONTRIBUTIONS, PREDICT,
};
use super::tensors::*;
use crate::answer::row_explanation;
use crate::capture::Rows;
use crate::http::limits::MAX_INSTANCES;
use crate::http::{bounded_body, json_response, ApiError};

impl Served<'_> {
    pub(super) fn infer(
        &self,
        observer: &mut impl Observer,
        headers: &HeaderMap,
        body: &Body,
    ) -> Result<Response<Body>, ApiError> {
        let bytes = bounded_body(body)?;
        let (json, binary) = split_binary(headers, bytes)?;
        let mut request: InferenceRequest = serde_json::from_slice(json).map_err(|e| {
            ApiError::bad_request(format!(
                "the body must be an Open Inference Protocol inference request, JSON like \
                 {{\"inputs\": [{{\"name\": ..., \"shape\": [...], \"datatype\": ..., \
                 \"data\": [...]}}]}}: {e}"
            ))
        })?;
        read_binary_inputs(&mut request.inputs, binary)?;
        let all_binary = flag(
            request.parameters.as_ref(),
            "binary_data_output",
            "the request",
        )?;
        // Absent, null or false: not asked; `false` also forbids naming `contributions`.
        let explain = match request.parameters.as_ref().and_then(|p| p.get("explain")) {
            None | Some(Value::Null) => None,
            _ => Some(flag(request.parameters.as_ref(), "explain", "the request")?),
        };
        let outputs = self.requested_outputs(request.outputs.as_deref(), all_binary, explain)?;
        let explaining = outputs.iter().any(|&(name, _)| name == CONTRIBUTIONS);
        if explaining {
            self.model
                .explainability()
                .map_err(ApiError::unexplainable)?;
        }
        let schema = self.model.schema();
        let (tensors, rows) = self.read_inputs(schema, &request.inputs)?;

        let mut batch = schema.batch(rows);
        for row in 0..rows {
            let view = TensorRow {
                tensors: &tensors,
                row,
            };
            schema
                .read_row(&view, &mut batch)
                .map_err(|e| ApiError::unprocessable(format!("row {row}: {e}")))?;
        }
        let scored = self
            .model
            .score(&batch, observer)
            .map_err(ApiError::scoring)?;
        let captured = |challenger| Rows {
            model: self.model,
            batch: &batch,
            scored: &scored,
            challenger,
        };
        if let Some(&(row, failure)) = scored.failures().first() {
            if let Some(capture) = &self.capture {
                capture.write(&captured(None));
            }
            return Err(ApiError::row_failure(failure, &format!("row {row}")));
        }
        let predictions = scored.answers();
        let explanations = match explaining {
            true => Some(
                self.model
                    .explain(&batch, &scored)
                    .map_err(ApiError::explain)?,
            ),
            false => None,
        };
        let mut binary = Vec::new();
        let mut answered = Vec::with_capacity(outputs.len());
        for &(name, as_binary) in &outputs {
            let mut out = match &explanations {
                Some(explained) if name == CONTRIBUTIONS => contributions(explained, rows)?,
                _ => output(name, predictions, rows),
            };
            if as_binary {
                if let Some(data) = out.data.take() {
                    let start = binary.len();
                    data.write_binary(&mut binary);
                    out.parameters = Some(BinarySize {
                        binary_data_size: binary.len() - start,
                    });
                }
            }
            answered.push(out);
        }
        let outputs = answered;
        let answer = InferenceResponse {
            model_name: self.name,
            model_version: self.model.version(),
            id: request.id.as_deref(),
            outputs,
        };
        let response = if binary.is_empty() {
            json_response(StatusCode::OK, &answer)
        } else {
            binary_response(&answer, binary)?
        };
        let challenger = self.shadow.as_ref().map(|shadow| {
            shadow.run(&batch, &scored, |row, schema, batch| {
                schema.read_row(
                    &TensorRow {
                        tensors: &tensors,
                        row,
                    },
                    batch,
                )
            })
        });
        if let Some(capture) = &self.capture {
            capture.write(&captured(challenger.as_ref()));
        }
        Ok(response)
    }

    /// The outputs to answer, in order, each with whether its data goes in binary: those
    /// asked for, or all but `contributions`; `contributions` is answered when `explain` is
    /// true (last, unless named) or when named (unless `explain` is false: a 400).
    fn requested_outputs(
        &self,
        asked: Option<&[RequestOutput<'_>]>,
        all_binary: bool,
        explain: Option<bool>,
    ) -> Result<Vec<(&'static str, bool)>, ApiError> {
        let task = self.model.task();
        let answers = output_names(&task);
        let explained = explain == Some(true);
        let asked = match asked {
            None | Some([]) => {
                let mut names: Vec<_> = answers.iter().map(|&n| (n, all_binary)).collect();
                if explained {
                    names.push((CONTRIBUTIONS, all_binary));
                }
                return Ok(names);
            }
            Some(asked) => asked,
        };
        let mut names = Vec::with_capacity(asked.len() + 1);
        for output in asked {
            let name = answers
                .iter()
                .chain(&[CONTRIBUTIONS])
                .find(|k| **k == output.name)
                .ok_or_else(|| {
                    let explains = self.model.explainability().is_ok();
                    ApiError::bad_request(format!(
                        "unknown output `{}`; this model's outputs are {}{}",
                        output.name,
                        answers.join(", "),
                        if explains { ", contributions" } else { "" }
                    ))
                })?;
            if *name == CONTRIBUTIONS && explain == Some(false) {
                return Err(ApiError::bad_request(format!(
                    "output `{CONTRIBUTIONS}` is asked for with parameters.explain false: drop \
                     one of them"
                )));
            }
            if names.iter().any(|(n, _)| n == name) {
                return Err(ApiError::bad_request(format!(
                    "output `{name}` is asked for twice"
                )));
            }
            let as_binary = all_binary
                || flag(
                    output.parameters.as_ref(),
                    "binary_data",
                    &format!("output `{name}`"),
                )?;
            names.push((*name, as_binary));
        }
        if explained && !names.iter().any(|&(n, _)| n == CONTRIBUTIONS) {
            names.push((CONTRIBUTIONS, all_binary));
        }
        Ok(names)
    }

    /// The request's inputs as tensors in schema order, and their row count.
    fn read_inputs<'a>(
        &self,
        schema: &'a FeatureSchema,
        inputs: &'a [RequestInput<'a>],
    ) -> Result<(Tensors<'a>, usize), ApiError> {
        let matrix = matrix_input(schema);
        let expected = || match matrix {
            Some(m) => format!(
                "one tensor per feature ({}), or the matrix `{m}` [N, {}]",
                schema.names().join(", "),
                schema.len()
            ),
            None => format!("one tensor per feature ({})", schema.names().join(", ")),
        };
        if inputs.is_empty() {
            return Err(ApiError::bad_request(format!(
                "inputs is empty; send {}",
                expected()
            )));
        }
        let mut seen: Vec<&str> = Vec::with_capacity(inputs.len());
        for input in inputs {
            if seen.contains(&&*input.name) {
                return Err(ApiError::bad_request(format!(
                    "input `{}` is given twice",
                    input.name
                )));
            }
            seen.push(&input.name);
        }
        let as_matrix = matrix.is_some_and(|m| seen.contains(&m));
        if as_matrix && inputs.len() > 1 {
            return Err(ApiError::bad_request(format!(
                "input `{}` is the model's whole [N, {}] matrix: send it alone, or one tensor \
                 per feature instead",
                matrix.unwrap_or_default(),
                schema.len()
            )));
        }
        // Where each feature's tensor is in the request.
        let mut slots: Vec<Option<&RequestInput>> = vec![None; schema.len()];
        if !as_matrix {
            for input in inputs {
                let at = schema
                    .names()
                    .iter()
                    .position(|n| *n == input.name)
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "unknown input `{}`; this model takes {}",
                            input.name,
                            expected()
                        ))
                    })?;
                slots[at] = Some(input);
            }
            let missing: Vec<&str> = schema
                .names()
                .iter()
                .zip(&slots)
                .filter(|(_, s)| s.is_none())
                .map(|(n, _)| n.as_str())
                .collect();
            if !missing.is_empty() {
                return Err(ApiError::bad_request(format!(
                    "input `{}` is missing{}; this model takes {}",
                    missing[0],
                    if missing.len() > 1 {
                        format!(
                            " (and {} more: {})",
                            missing.len() - 1,
                            missing[1..].join(", ")
                        )
                    } else {
                        String::new()
                    },
                    expected()
                )));
            }
        }
        let mut rows: Option<(usize, &str)> = None;
        let mut columns = Vec::with_capacity(inputs.len());
        let tensors: Vec<(&RequestInput, Option<FeatureType>)> = if as_matrix {
            vec![(&inputs[0], Some(schema.features()[0].ty))]
        } else {
            slots
                .iter()
                .zip(schema.features())
                .map(|(s, f)| (s.expect("every feature has its tensor"), Some(f.ty)))
                .collect()
        };
        for (input, ty) in tensors {
            let name = &*input.name;
            let dt = datatype(name, &input.datatype)?;
            let categorical = ty == Some(FeatureType::String);
            match (categorical, dt) {
                (true, Datatype::Bytes) | (false, Datatype::Fp32 | Datatype::Fp64) => {}
                (false, Datatype::Int(..) | Datatype::Uint(_)) => {}
                (true, _) => {
                    return Err(ApiError::bad_request(format!(
                        "input `{name}` is a categorical feature: its datatype must be BYTES \
                         (strings), not {}",
                        input.datatype
                    )))
                }
                (false, _) => {
                    return Err(ApiError::bad_request(format!(
                        "input `{name}` is numeric: its datatype must be {NUMERIC}, not {}",
                        input.datatype
                    )))
                }
            }
            let n = rows_of(name, &input.shape, schema.len(), as_matrix)?;
            match rows {
                Some((first, other)) if first != n => {
                    return Err(ApiError::bad_request(format!(
                        "input `{name}` has {n} rows but `{other}` has {first}: every input \
                         must have the same number of rows"
                    )))
                }
                _ => rows = Some((n, name)),
            }
            let data = input
                .data
                .as_ref()
                .ok_or_else(|| ApiError::bad_request(format!("input `{name}` has no data")))?;
            if data.not_array {
                return Err(ApiError::bad_request(format!(
                    "input `{name}`: data must be an array (flat or nested, row-major)"
                )));
            }
            let items = &data.items[..];
            let want = if as_matrix { n * schema.len() } else { n };
            if items.len() != want {
                return Err(ApiError::bad_request(format!(
                    "input `{name}` has shape {} but {} data items; the shape holds {want}",
                    show_shape(&input.shape),
                    items.len()
                )));
            }
            check_items(name, &input.datatype, dt, items)?;
            columns.push(Column {
                items,
                datatype: dt,
            });
        }
        let rows = rows.map_or(0, |(n, _)| n);
        if rows == 0 {
            return Err(ApiError::bad_request(
                "the inputs have no rows; send 1 to 1000",
            ));
        }
        if rows > MAX_INSTANCES {
            return Err(ApiError::too_large(format!(
                "{rows} rows; at most {MAX_INSTANCES} per request"
            )));
        }
        Ok((
            Tensors {
                names: schema.names(),
                columns,
                matrix: as_matrix,
            },
            rows,
        ))
    }
}

/// One output of the answers for `rows` rows.
fn output<'a>(name: &'static str, predictions: &'a Predictions, rows: usize) -> ResponseOutput<'a> {
    match (name, predictions) {
        (PREDICT, Predictions::Scores(scores)) => ResponseOutput {
            name,
            datatype: "FP32",
            shape: Shape::Two([rows, 1]),
            data: Some(OutputData::Numbers(scores)),
            parameters: None,
        },
        (
            PREDICT,
            Predictions::Classes {
                classes, labels, ..
            },
        ) => ResponseOutput {
            name,
            datatype: label_datatype(classes),
            shape: Shape::Two([rows, 1]),
            data: Some(OutputData::Labels(
                labels.iter().map(|&i| &classes[i]).collect(),
            )),
            parameters: None,
        },
        (
            _,
            Predictions::Classes {
                classes,
                probabilities,
                ..
            },
        ) => ResponseOutput {
            name,
            datatype: "FP32",
            shape: Shape::Two([rows, classes.len()]),
            data: Some(OutputData::Numbers(probabilities)),
            parameters: None,
        },
        (_, Predictions::Scores(scores)) => ResponseOutput {
            name,
            datatype: "FP32",
            shape: Shape::Two([rows, 1]),
            data: Some(OutputData::Numbers(scores)),
            parameters: None,
        },
    }
}

/// The `contributions` output: every row's explanation, rows × targets × features
/// (`[N, F]` where one target is explained), in `FP64` as they were computed.
fn contributions(
    explanations: &Explanations,
    rows: usize,
) -> Result<ResponseOutput<'static>, ApiError> {
    let targets = explanations.targets();
    let (n_targets, features) = (targets.n_targets(), targets.features.len());
    let mut values = Vec::with_capacity(rows * n_targets * features);
    for row in 0..rows {
        let explained = row_explanation(explanations, row)?;
        for target in 0..n_targets {
            values.extend_from_slice(explained.contributions(target));
        }
    }
    Ok(ResponseOutput {
        name: CONTRIBUTIONS,
        datatype: "FP64",
        shape: match n_targets {
            1 => Shape::Two([rows, features]),
            n => Shape::Three([rows, n, features]),
        },
        data: Some(OutputData::Doubles(values)),
        parameters: None,
    })
}
