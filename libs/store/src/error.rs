//! What a failed store call means for its caller.

/// A store call that failed, after whatever retrying the store does itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    pub kind: ErrorKind,
    /// What failed and why, in full: for logs and operators, not for API callers.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Unreachable, throttled or failing even after retries: may pass later.
    Unavailable,
    /// Refused, and would be refused again: a missing table, denied access, a bad request.
    Refused,
    /// The object asked for does not exist.
    NotFound,
    /// The object is larger than the caller could take (`bytes` long): refused before its
    /// body was read.
    TooLarge { bytes: u64 },
}

impl StoreError {
    pub fn unavailable(message: impl Into<String>) -> Self {
        StoreError {
            kind: ErrorKind::Unavailable,
            message: message.into(),
        }
    }

    pub fn refused(message: impl Into<String>) -> Self {
        StoreError {
            kind: ErrorKind::Refused,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        StoreError {
            kind: ErrorKind::NotFound,
            message: message.into(),
        }
    }

    pub fn too_large(bytes: u64, limit: u64) -> Self {
        StoreError {
            kind: ErrorKind::TooLarge { bytes },
            message: format!("the object is {bytes} bytes, over the limit of {limit}"),
        }
    }
}
