//! Triton's binary tensor data extension: inputs read from the bytes after the JSON, and
//! outputs written the same way when asked.

use std::borrow::Cow;

use lambda_http::http::HeaderMap;
use lambda_http::{Body, Response};
use scoring::Label;

use super::protocol::{InferenceResponse, OutputData, RequestInput, BINARY_HEADER};
use super::tensors::*;
use crate::http::ApiError;
/// The body's JSON part and the binary data after it (empty without the header).
pub(super) fn split_binary<'b>(
    headers: &HeaderMap,
    body: &'b [u8],
) -> Result<(&'b [u8], &'b [u8]), ApiError> {
    let Some(value) = headers.get(BINARY_HEADER) else {
        return Ok((body, &[]));
    };
    let json_len = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "the Inference-Header-Content-Length header must be the JSON part's length in \
                 bytes, not {:?}",
                String::from_utf8_lossy(value.as_bytes())
            ))
        })?;
    if json_len > body.len() {
        return Err(ApiError::bad_request(format!(
            "the Inference-Header-Content-Length header says the JSON part is {json_len} \
             bytes, but the body has {}",
            body.len()
        )));
    }
    Ok(body.split_at(json_len))
}

/// Bytes per item of a fixed-size datatype.
fn item_width(datatype: &str) -> Option<usize> {
    Some(match datatype {
        "INT8" | "UINT8" => 1,
        "INT16" | "UINT16" => 2,
        "INT32" | "UINT32" | "FP32" => 4,
        "INT64" | "UINT64" | "FP64" => 8,
        _ => return None,
    })
}

/// Replaces each binary input's missing `data` with its items, read from `binary` in the
/// inputs' order; every byte must belong to an input.
pub(super) fn read_binary_inputs<'a>(
    inputs: &mut [RequestInput<'a>],
    binary: &'a [u8],
) -> Result<(), ApiError> {
    let mut rest = binary;
    for input in inputs.iter_mut() {
        let name = &*input.name;
        let Some(size) = input
            .parameters
            .as_ref()
            .and_then(|p| p.get("binary_data_size"))
        else {
            continue;
        };
        let size = size
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "input `{name}`: parameters.binary_data_size must be a byte count, not {size}"
                ))
            })?;
        if input.data.is_some() {
            return Err(ApiError::bad_request(format!(
                "input `{name}` has both data and parameters.binary_data_size: send one"
            )));
        }
        if size > rest.len() {
            return Err(ApiError::bad_request(format!(
                "input `{name}` has binary_data_size {size}, but only {} bytes of binary data \
                 are left{}",
                rest.len(),
                if binary.is_empty() {
                    " (binary data needs the Inference-Header-Content-Length header giving \
                     the JSON part's length)"
                } else {
                    ""
                }
            )));
        }
        let (bytes, after) = rest.split_at(size);
        rest = after;
        let items = decode_binary(name, &input.datatype, bytes)?;
        input.data = Some(TensorData {
            items,
            not_array: false,
        });
    }
    if !rest.is_empty() {
        return Err(ApiError::bad_request(format!(
            "{} bytes of binary data are left after the inputs' binary_data_size",
            rest.len()
        )));
    }
    Ok(())
}

/// The items of one input's binary data: little-endian fixed-size values, or for `BYTES`
/// each item's 4-byte little-endian length and then its bytes.
fn decode_binary<'a>(
    input: &str,
    datatype_name: &str,
    bytes: &'a [u8],
) -> Result<Vec<Item<'a>>, ApiError> {
    let dt = datatype(input, datatype_name)?;
    if dt == Datatype::Bytes {
        let mut items = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let i = items.len();
            let cut = |what: &str| {
                ApiError::bad_request(format!(
                    "input `{input}`: the binary data ends inside item {i}'s {what}"
                ))
            };
            let (len, after) = rest.split_first_chunk::<4>().ok_or_else(|| cut("length"))?;
            let len = u32::from_le_bytes(*len) as usize;
            if len > after.len() {
                return Err(cut("bytes"));
            }
            let (text, after) = after.split_at(len);
            let text = std::str::from_utf8(text).map_err(|_| {
                ApiError::bad_request(format!("input `{input}`: item {i} is not UTF-8 text"))
            })?;
            items.push(Item::Text(Cow::Borrowed(text)));
            rest = after;
        }
        return Ok(items);
    }
    let width = item_width(datatype_name).expect("every numeric datatype has a width");
    if !bytes.len().is_multiple_of(width) {
        return Err(ApiError::bad_request(format!(
            "input `{input}`: binary_data_size {} is not a whole number of {datatype_name} \
             items ({width} bytes each)",
            bytes.len()
        )));
    }
    bytes
        .chunks_exact(width)
        .enumerate()
        .map(|(i, b)| {
            let item = match (datatype_name, dt) {
                ("FP32", _) => Item::Float(f32::from_le_bytes(b.try_into().unwrap()).into()),
                ("FP64", _) => Item::Float(f64::from_le_bytes(b.try_into().unwrap())),
                (_, Datatype::Int(..)) => Item::Int(match width {
                    1 => i8::from_le_bytes(b.try_into().unwrap()).into(),
                    2 => i16::from_le_bytes(b.try_into().unwrap()).into(),
                    4 => i32::from_le_bytes(b.try_into().unwrap()).into(),
                    _ => i64::from_le_bytes(b.try_into().unwrap()),
                }),
                _ => {
                    let v: u64 = match width {
                        1 => b[0].into(),
                        2 => u16::from_le_bytes(b.try_into().unwrap()).into(),
                        4 => u32::from_le_bytes(b.try_into().unwrap()).into(),
                        _ => u64::from_le_bytes(b.try_into().unwrap()),
                    };
                    i64::try_from(v).map_or(Item::Uint(v), Item::Int)
                }
            };
            match item {
                Item::Float(v) if !v.is_finite() => Err(ApiError::bad_request(format!(
                    "input `{input}`: item {i} is {v}, not a finite number; the protocol has \
                     no missing values: send a value, or score the row with POST /predict, \
                     which takes null"
                ))),
                item => Ok(item),
            }
        })
        .collect()
}

impl OutputData<'_> {
    /// The data as the binary extension sends it: little-endian `FP32` or `FP64`, `INT64`
    /// labels, or `BYTES` labels each as its 4-byte little-endian length and its UTF-8.
    pub(super) fn write_binary(&self, out: &mut Vec<u8>) {
        match self {
            OutputData::Numbers(values) => {
                out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            }
            OutputData::Doubles(values) => {
                out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            }
            OutputData::Labels(labels) => {
                for label in labels {
                    match label {
                        Label::Int(v) => out.extend(v.to_le_bytes()),
                        Label::Text(text) => {
                            out.extend((text.len() as u32).to_le_bytes());
                            out.extend(text.as_bytes());
                        }
                    }
                }
            }
        }
    }
}

/// The JSON answer followed by its outputs' binary data, the JSON's length in the
/// `Inference-Header-Content-Length` header.
pub(super) fn binary_response(
    answer: &InferenceResponse<'_>,
    binary: Vec<u8>,
) -> Result<Response<Body>, ApiError> {
    let mut body = serde_json::to_vec(answer).map_err(|e| {
        tracing::error!(error = %e, "encoding an inference answer failed");
        ApiError::internal("the answer could not be encoded")
    })?;
    let json_len = body.len();
    body.extend(binary);
    let mut response = Response::new(Body::Binary(body));
    let headers = response.headers_mut();
    headers.insert(
        lambda_http::http::header::CONTENT_TYPE,
        lambda_http::http::HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(BINARY_HEADER, json_len.into());
    Ok(response)
}
