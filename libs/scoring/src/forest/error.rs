//! The one error of building or walking a forest, and `invalid!`, which returns it.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForestError(pub String);

impl fmt::Display for ForestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ForestError {}

/// `return Err(ForestError(format!(...)))`: the caller imports `ForestError`.
macro_rules! invalid {
    ($($arg:tt)*) => { return Err(ForestError(format!($($arg)*))) };
}
