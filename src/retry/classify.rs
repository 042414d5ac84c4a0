//! Which outcomes of an attempt are retried.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, StatusCode};

use crate::error_code::ErrorCode;
use crate::legacy::LegacyRetry;

use super::transport::legacy_error_reason;

/// Why an attempt's outcome is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryReason {
    /// HTTP 429, whatever its error code: how `ModelNotReadyException` is retried.
    TooManyRequests,
    /// HTTP 500, 502, 503, 504 or 509.
    ServerError(StatusCode),
    /// HTTP 400 with a legacy throttling code.
    Throttling,
    /// A status added with [`RetryClassifier::retry_status`].
    ExtraStatus(StatusCode),
    /// An error code added with [`RetryClassifier::retry_error_code`].
    ExtraErrorCode,
    /// The predicate of [`RetryClassifier::retry_response_if`] or
    /// [`RetryClassifier::retry_error_if`] said so.
    Predicate,
    /// A transport error: connect failure, connection closed or reset, I/O error.
    Transport,
    /// The attempt timed out ([`AttemptTimedOut`](super::AttemptTimedOut)).
    AttemptTimeout,
    /// A read waited longer than the read timeout
    /// ([`ReadTimedOut`](crate::read_timeout::ReadTimedOut)).
    ReadTimeout,
    /// Reading the response body failed within the attempt
    /// ([`BodyReadFailed`](crate::collect_body::BodyReadFailed)).
    BodyRead,
}

impl RetryReason {
    /// A short name for logs.
    pub fn as_str(&self) -> &'static str {
        match self {
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

type ResponsePredicate = dyn Fn(StatusCode, &HeaderMap) -> bool + Send + Sync;
type ErrorPredicate = dyn Fn(&(dyn StdError + 'static)) -> bool + Send + Sync;

/// Decides from a response's head (status and headers, never the body) or from
/// an error whether an attempt is retried.
///
/// [`RetryClassifier::legacy`] is botocore's legacy mode:
/// - 429 whatever the code, 500, 502, 503, 504, 509;
/// - 400 whose `X-Amzn-ErrorType` is a legacy throttling code
///   (`Throttling`, `ThrottlingException`, `ThrottledException`,
///   `RequestThrottledException`, `ProvisionedThroughputExceededException`,
///   compared exactly, case and whitespace included, after the cut of
///   [`ErrorCode::from_headers`]);
/// - transport errors (an [`std::io::Error`] anywhere in the source chain,
///   or, with feature `hyper`, a connection-level `hyper::Error`: closed,
///   incomplete message, canceled, timed out, body write aborted, or a
///   malformed response head, which botocore meets as a `ConnectionClosedError`),
///   [`AttemptTimedOut`](super::AttemptTimedOut), [`ReadTimedOut`](crate::read_timeout::ReadTimedOut)
///   and [`BodyReadFailed`](crate::collect_body::BodyReadFailed).
///
/// Not retried: 424 `ModelError`, 400 `ValidationError`, 530, other 4xx, other errors.
///
/// ```
/// use http::{HeaderMap, StatusCode};
/// use tower_sagemaker::retry::{RetryClassifier, RetryReason};
///
/// let classifier = RetryClassifier::legacy()
///     .retry_status(StatusCode::from_u16(530).unwrap())
///     .retry_error_code("ModelError");
/// let none = HeaderMap::new();
/// assert_eq!(classifier.classify_response(StatusCode::TOO_MANY_REQUESTS, &none), Some(RetryReason::TooManyRequests));
/// assert!(classifier.classify_response(StatusCode::from_u16(530).unwrap(), &none).is_some());
/// assert_eq!(classifier.classify_response(StatusCode::NOT_FOUND, &none), None);
/// ```
#[derive(Clone, Default)]
pub struct RetryClassifier {
    // `None` for plain legacy: cloning the classifier per call then costs nothing.
    extras: Option<Arc<Extras>>,
}

#[derive(Clone, Default)]
struct Extras {
    statuses: Vec<StatusCode>,
    codes: Vec<Cow<'static, str>>,
    response_predicate: Option<Arc<ResponsePredicate>>,
    error_predicate: Option<Arc<ErrorPredicate>>,
}

impl RetryClassifier {
    /// botocore's legacy retry conditions.
    pub fn legacy() -> Self {
        Self::default()
    }

    fn extras(&mut self) -> &mut Extras {
        Arc::make_mut(self.extras.get_or_insert_with(Default::default))
    }

    /// Also retries responses with `status`.
    pub fn retry_status(mut self, status: StatusCode) -> Self {
        self.extras().statuses.push(status);
        self
    }

    /// Also retries error responses (any status of 400 and above) whose
    /// error code is `code`. The response's `X-Amzn-ErrorType` is cut by
    /// [`ErrorCode::from_headers`] and compared exactly (case and whitespace
    /// included) with `code` as given.
    pub fn retry_error_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.extras().codes.push(code.into());
        self
    }

    /// Also retries responses for which `predicate(status, headers)` is true.
    pub fn retry_response_if<F>(mut self, predicate: F) -> Self
    where
        F: Fn(StatusCode, &HeaderMap) -> bool + Send + Sync + 'static,
    {
        self.extras().response_predicate = Some(Arc::new(predicate));
        self
    }

    /// Also retries errors for which `predicate(error)` is true.
    pub fn retry_error_if<F>(mut self, predicate: F) -> Self
    where
        F: Fn(&(dyn StdError + 'static)) -> bool + Send + Sync + 'static,
    {
        self.extras().error_predicate = Some(Arc::new(predicate));
        self
    }

    /// Why a response with this head is retried, or `None`.
    #[inline]
    pub fn classify_response(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Option<RetryReason> {
        // The common case, kept inline: the legacy rules never retry a success.
        if self.extras.is_none() && status.is_success() {
            return None;
        }
        self.classify_response_head(status, headers)
    }

    fn classify_response_head(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Option<RetryReason> {
        if let Some(reason) = legacy_status_reason(status, || ErrorCode::from_headers(headers)) {
            return Some(reason);
        }
        let extras = self.extras.as_deref()?;
        if extras.statuses.contains(&status) {
            return Some(RetryReason::ExtraStatus(status));
        }
        if !extras.codes.is_empty() && status.as_u16() >= 400 {
            if let Some(code) = ErrorCode::from_headers(headers) {
                if extras.codes.iter().any(|c| c == code.as_str()) {
                    return Some(RetryReason::ExtraErrorCode);
                }
            }
        }
        match &extras.response_predicate {
            Some(p) if p(status, headers) => Some(RetryReason::Predicate),
            _ => None,
        }
    }

    /// Why an error is retried, or `None`.
    pub fn classify_error(&self, error: &(dyn StdError + 'static)) -> Option<RetryReason> {
        if let Some(reason) = legacy_error_reason(error) {
            return Some(reason);
        }
        match self
            .extras
            .as_deref()
            .and_then(|e| e.error_predicate.as_ref())
        {
            Some(p) if p(error) => Some(RetryReason::Predicate),
            _ => None,
        }
    }
}

impl fmt::Debug for RetryClassifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let extras = self.extras.as_deref().cloned().unwrap_or_default();
        f.debug_struct("RetryClassifier")
            .field("extra_statuses", &extras.statuses)
            .field("extra_codes", &extras.codes)
            .field("response_predicate", &extras.response_predicate.is_some())
            .field("error_predicate", &extras.error_predicate.is_some())
            .finish()
    }
}

/// botocore's legacy rule for a response, as a [`RetryReason`].
fn legacy_status_reason<'a>(
    status: StatusCode,
    code: impl FnOnce() -> Option<ErrorCode<'a>>,
) -> Option<RetryReason> {
    Some(match LegacyRetry::of(status, code)? {
        LegacyRetry::TooManyRequests => RetryReason::TooManyRequests,
        LegacyRetry::ServerError => RetryReason::ServerError(status),
        LegacyRetry::Throttling => RetryReason::Throttling,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::AttemptTimedOut;
    use crate::sagemaker::ERROR_TYPE_HEADER;

    fn headers(code: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ERROR_TYPE_HEADER, code.parse().unwrap());
        h
    }

    fn status(s: u16) -> StatusCode {
        StatusCode::from_u16(s).unwrap()
    }

    #[test]
    fn legacy_statuses() {
        let c = RetryClassifier::legacy();
        let none = HeaderMap::new();
        assert_eq!(
            c.classify_response(status(429), &headers("ModelNotReadyException")),
            Some(RetryReason::TooManyRequests)
        );
        assert_eq!(
            c.classify_response(status(429), &none),
            Some(RetryReason::TooManyRequests)
        );
        for s in [500, 502, 503, 504, 509] {
            assert_eq!(
                c.classify_response(status(s), &none),
                Some(RetryReason::ServerError(status(s))),
                "{s}"
            );
        }
        for s in [200, 201, 400, 401, 403, 404, 413, 424, 501, 505, 530] {
            assert_eq!(c.classify_response(status(s), &none), None, "{s}");
        }
        assert_eq!(
            c.classify_response(status(424), &headers("ModelError")),
            None
        );
        assert_eq!(
            c.classify_response(status(400), &headers("ValidationError")),
            None
        );
        assert_eq!(
            c.classify_response(status(530), &headers("InternalDependencyException")),
            None
        );
    }

    #[test]
    fn legacy_throttling_codes_on_400_only() {
        let c = RetryClassifier::legacy();
        for code in [
            "Throttling",
            "ThrottlingException",
            "ThrottledException",
            "RequestThrottledException",
            "ProvisionedThroughputExceededException",
            "ThrottlingException:http://internal.amazon.com/x",
            "com.amazon.coral#ThrottlingException",
        ] {
            assert_eq!(
                c.classify_response(status(400), &headers(code)),
                Some(RetryReason::Throttling),
                "{code}"
            );
            assert_eq!(
                c.classify_response(status(403), &headers(code)),
                None,
                "{code}"
            );
        }
        // Compared exactly, untrimmed, as botocore compares.
        for code in [
            "TooManyRequestsException",
            "throttlingexception",
            "requestthrottledexception",
            "THROTTLING",
            "ThrottlingException :http://internal.amazon.com/x",
            "ns# ThrottlingException",
            "ThrottlingException\t",
        ] {
            assert_eq!(
                c.classify_response(status(400), &headers(code)),
                None,
                "{code:?}"
            );
        }
        // The namespace's bytes do not matter.
        let mut h = HeaderMap::new();
        h.insert(
            ERROR_TYPE_HEADER,
            http::HeaderValue::from_bytes(b"\xff\xfe#RequestThrottledException").unwrap(),
        );
        assert_eq!(
            c.classify_response(status(400), &h),
            Some(RetryReason::Throttling)
        );
    }

    #[test]
    fn additions() {
        let c = RetryClassifier::legacy()
            .retry_status(status(530))
            .retry_error_code("ModelError")
            .retry_response_if(|s, _| s == StatusCode::IM_A_TEAPOT)
            .retry_error_if(|e| e.to_string().contains("flaky"));
        let none = HeaderMap::new();
        assert_eq!(
            c.classify_response(status(530), &none),
            Some(RetryReason::ExtraStatus(status(530)))
        );
        assert_eq!(
            c.classify_response(status(424), &headers("ns#ModelError:uri")),
            Some(RetryReason::ExtraErrorCode)
        );
        assert_eq!(
            c.classify_response(status(424), &headers("modelerror")),
            None
        );
        assert_eq!(
            c.classify_response(status(200), &headers("ModelError")),
            None
        );
        assert_eq!(
            c.classify_response(status(418), &none),
            Some(RetryReason::Predicate)
        );
        let flaky: Box<dyn StdError> = "flaky thing".into();
        let other: Box<dyn StdError> = "other thing".into();
        assert_eq!(c.classify_error(&*flaky), Some(RetryReason::Predicate));
        assert_eq!(c.classify_error(&*other), None);
        assert!(format!("{c:?}").contains("response_predicate: true"));
    }

    #[derive(Debug)]
    struct Wrapper(std::io::Error);
    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("client error")
        }
    }
    impl StdError for Wrapper {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn errors() {
        let c = RetryClassifier::legacy();
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(c.classify_error(&refused), Some(RetryReason::Transport));
        let wrapped = Wrapper(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(c.classify_error(&wrapped), Some(RetryReason::Transport));
        let timeout = AttemptTimedOut::new(std::time::Duration::from_secs(70), 1);
        assert_eq!(
            c.classify_error(&timeout),
            Some(RetryReason::AttemptTimeout)
        );
        let other: Box<dyn StdError> = "bad request signing".into();
        assert_eq!(c.classify_error(&*other), None);
    }
}
