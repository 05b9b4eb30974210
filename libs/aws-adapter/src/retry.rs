//! What a failed AWS call means for the caller: try again later, or give up.

/// A failed call, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub message: String,
    /// Throttling and server-side errors pass; anything else will fail again.
    pub retryable: bool,
}

/// DynamoDB error codes that mean "slow down" or "try again", not "this request is wrong".
const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "LimitExceededException",
];

impl Failure {
    pub fn retryable(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            retryable: true,
        }
    }

    pub fn fatal(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            retryable: false,
        }
    }

    /// By the service's error code; no code at all means the request never got an answer
    /// (network, timeout), which is worth another try.
    pub fn classify(code: Option<&str>, message: String) -> Self {
        match code {
            None => Failure::retryable(message),
            Some(code) => Failure {
                retryable: RETRYABLE_CODES.contains(&code),
                message,
            },
        }
    }
}
