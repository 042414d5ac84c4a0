//! botocore's legacy retry rule for a response head, written once: the retry
//! classifier turns it into a reason, `CollectBodyLayer` leaves the bodies it
//! matches unread.

use http::StatusCode;

use crate::error_code::ErrorCode;
use crate::sagemaker::LEGACY_RETRYABLE_STATUSES;

/// Why botocore's legacy mode retries a response, by its status and, for a
/// 400, its error code. The one place this rule is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LegacyRetry {
    /// 429, whatever the code.
    TooManyRequests,
    /// 500, 502, 503, 504 or 509.
    ServerError,
    /// 400 with a legacy throttling code.
    Throttling,
}

impl LegacyRetry {
    /// The rule for a response head. `code` is asked for only on a 400, so
    /// the success path reads no header.
    pub(crate) fn of<'a>(
        status: StatusCode,
        code: impl FnOnce() -> Option<ErrorCode<'a>>,
    ) -> Option<Self> {
        match status.as_u16() {
            429 => Some(Self::TooManyRequests),
            s if LEGACY_RETRYABLE_STATUSES.contains(&s) => Some(Self::ServerError),
            400 if code().is_some_and(|c| c.is_legacy_throttling()) => Some(Self::Throttling),
            _ => None,
        }
    }
}
