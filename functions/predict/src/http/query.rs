//! Query-string parameters that take one of a few words (`explain=true`, `model=challenger`):
//! read in place, given once (or repeated with the same value), anything else a 400 that
//! names the parameter and the words it takes. Other parameters are ignored. Nothing is
//! allocated unless a part is percent-encoded.

use super::error::ApiError;

/// The value of `name` in `query` among `words` (each with what it means), `default` when
/// absent. `allowed` lists the words for the error message.
pub fn one_of<T: Copy + PartialEq>(
    query: Option<&str>,
    name: &str,
    words: &[(&str, T)],
    default: T,
    allowed: &str,
) -> Result<T, ApiError> {
    let decode = |s| percent_encoding::percent_decode_str(s).decode_utf8_lossy();
    let mut asked = None;
    for pair in query.unwrap_or_default().split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(key) != name {
            continue;
        }
        let value = decode(value);
        let Some(&(_, meaning)) = words.iter().find(|(word, _)| *word == value) else {
            return Err(ApiError::bad_request(format!(
                "the query parameter {name} must be {allowed}, not {value:?}"
            )));
        };
        if asked.is_some_and(|a| a != meaning) {
            return Err(ApiError::bad_request(format!(
                "the query parameter {name} is given twice, with different values; give it \
                 once: {allowed}"
            )));
        }
        asked = Some(meaning);
    }
    Ok(asked.unwrap_or(default))
}
