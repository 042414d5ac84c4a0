//! [`RetryReason`]: why an attempt's outcome is retried.

use http::StatusCode;

/// Why an attempt's outcome is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryReason {
    /// HTTP 429 `ModelNotReadyException`: the target model is still loading.
    ModelNotReady,
    /// HTTP 400 `ValidationError` whose message says the inference component
    /// has no copy (it scaled to zero, or is scaling out): retried only with
    /// [`RetryClassifier::scale_from_zero`](super::RetryClassifier::scale_from_zero),
    /// paced by [`LegacyRetries::scale_out_backoff`](crate::retry::LegacyRetries::scale_out_backoff).
    NoCapacity,
    /// HTTP 429 with any other code (or none).
    TooManyRequests,
    /// HTTP 500, 502, 503, 504 or 509.
    ServerError(StatusCode),
    /// HTTP 400 with a legacy throttling code.
    Throttling,
    /// A status added with [`RetryClassifier::retry_status`](super::RetryClassifier::retry_status).
    ExtraStatus(StatusCode),
    /// An error code added with [`RetryClassifier::retry_error_code`](super::RetryClassifier::retry_error_code).
    ExtraErrorCode,
    /// The predicate of [`RetryClassifier::retry_response_if`](super::RetryClassifier::retry_response_if) or
    /// [`RetryClassifier::retry_error_if`](super::RetryClassifier::retry_error_if) said so.
    Predicate,
    /// A transport error: connect failure, connection closed or reset,
    /// malformed response, I/O error (with feature `reqwest`, also a timeout
    /// of reqwest's own).
    Transport,
    /// The attempt timed out ([`AttemptTimedOut`](crate::retry::AttemptTimedOut)).
    AttemptTimeout,
    /// A read waited longer than the read timeout (`ReadTimedOut` of the
    /// `read_timeout` module).
    ReadTimeout,
    /// Reading the response body failed within the attempt (`BodyReadFailed`
    /// of the `collect_body` module).
    BodyRead,
}

impl RetryReason {
    /// A short name for logs and metric labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ModelNotReady => "model_not_ready",
            Self::NoCapacity => "no_capacity",
            Self::TooManyRequests => "too_many_requests",
            Self::ServerError(_) => "server_error",
            Self::Throttling => "throttling",
            Self::ExtraStatus(_) => "extra_status",
            Self::ExtraErrorCode => "extra_error_code",
            Self::Predicate => "predicate",
            Self::Transport => "transport",
            Self::AttemptTimeout => "attempt_timeout",
            Self::ReadTimeout => "read_timeout",
            Self::BodyRead => "body_read",
        }
    }
}
