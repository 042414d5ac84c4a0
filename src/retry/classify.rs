//! Which outcomes of an attempt are retried, worked out once per attempt.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, StatusCode};
use tower::BoxError;

use super::AttemptTimedOut;
use crate::error_code::ErrorCode;
use crate::legacy::LegacyRetry;

/// Why an attempt's outcome is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryReason {
    /// HTTP 429 `ModelNotReadyException`: the target model is still loading.
    ModelNotReady,
    /// HTTP 429 with any other code (or none).
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
    /// A transport error: connect failure, connection closed or reset,
    /// malformed response, I/O error (with feature `reqwest`, also a timeout
    /// of reqwest's own).
    Transport,
    /// The attempt timed out ([`AttemptTimedOut`]).
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
/// - 429 whatever the code ([`RetryReason::ModelNotReady`] for
///   `ModelNotReadyException`), 500, 502, 503, 504, 509;
/// - 400 whose `X-Amzn-ErrorType` is a legacy throttling code
///   (`Throttling`, `ThrottlingException`, `ThrottledException`,
///   `RequestThrottledException`, `ProvisionedThroughputExceededException`),
///   compared exactly, case and whitespace included, after the cut of
///   [`ErrorCode::from_headers`], as botocore compares them;
/// - transport errors (an [`std::io::Error`] anywhere in the source chain,
///   or, with feature `hyper`, a connection-level `hyper::Error`: closed,
///   incomplete message, canceled, timed out, body write aborted, or a
///   malformed response head, which botocore meets as a `ConnectionClosedError`;
///   with feature `reqwest`, a `reqwest::Error` that is a timeout or a connect error),
///   [`AttemptTimedOut`], and the `ReadTimedOut` and `BodyReadFailed` errors
///   of the `read_timeout` and `collect_body` modules.
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

/// An attempt's outcome as classified once: why it is retried, its error
/// code, and whether its connection was reset under it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Classified<'a> {
    pub(crate) reason: Option<RetryReason>,
    /// The response's `X-Amzn-ErrorType` code (not read on a success).
    pub(crate) code: Option<ErrorCode<'a>>,
    /// The connection was reset or closed before any response came.
    pub(crate) reset: bool,
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
        self.classify_head(status, headers).reason
    }

    /// Why an error is retried, or `None`.
    pub fn classify_error(&self, error: &(dyn StdError + 'static)) -> Option<RetryReason> {
        self.classify_err(error).reason
    }

    /// Classifies an attempt's outcome: one parse of the error code, one
    /// walk of the error's source chain.
    #[inline]
    pub(crate) fn classify<'a, R>(
        &self,
        outcome: &'a Result<http::Response<R>, BoxError>,
    ) -> Classified<'a> {
        match outcome {
            Ok(res) => self.classify_head(res.status(), res.headers()),
            Err(err) => self.classify_err(&**err),
        }
    }

    #[inline]
    fn classify_head<'a>(&self, status: StatusCode, headers: &'a HeaderMap) -> Classified<'a> {
        // The common case, kept inline: the legacy rules never retry a
        // success, and a success's head is not read.
        if self.extras.is_none() && status.is_success() {
            return Classified::default();
        }
        let code = (!status.is_success())
            .then(|| ErrorCode::from_headers(headers))
            .flatten();
        Classified {
            reason: self.response_reason(status, headers, code),
            code,
            reset: false,
        }
    }

    fn response_reason(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        code: Option<ErrorCode<'_>>,
    ) -> Option<RetryReason> {
        match LegacyRetry::of(status, || code) {
            Some(LegacyRetry::TooManyRequests) if code == Some(ErrorCode::MODEL_NOT_READY) => {
                return Some(RetryReason::ModelNotReady)
            }
            Some(LegacyRetry::TooManyRequests) => return Some(RetryReason::TooManyRequests),
            Some(LegacyRetry::ServerError) => return Some(RetryReason::ServerError(status)),
            Some(LegacyRetry::Throttling) => return Some(RetryReason::Throttling),
            None => {}
        }
        let extras = self.extras.as_deref()?;
        if extras.statuses.contains(&status) {
            return Some(RetryReason::ExtraStatus(status));
        }
        if status.as_u16() >= 400 {
            if let Some(code) = code {
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

    fn classify_err(&self, error: &(dyn StdError + 'static)) -> Classified<'static> {
        let mut reason = None;
        let mut reset = false;
        let mut next = Some(error);
        while let Some(err) = next {
            reason = reason.or_else(|| known_reason(err));
            reset = reset || is_reset(err);
            if reason.is_some() && reset {
                break;
            }
            next = err.source();
        }
        if reason.is_none() {
            if let Some(p) = self
                .extras
                .as_deref()
                .and_then(|e| e.error_predicate.as_ref())
            {
                reason = p(error).then_some(RetryReason::Predicate);
            }
        }
        Classified {
            reason,
            code: None,
            reset,
        }
    }
}

/// botocore's legacy rule for one error of a source chain: the one place
/// that knows the errors of the crate's other layers and of the transports.
/// `std::io::Error` is what every client built on std sockets reports; hyper
/// reports its own connection-level errors.
fn known_reason(err: &(dyn StdError + 'static)) -> Option<RetryReason> {
    if err.is::<AttemptTimedOut>() {
        return Some(RetryReason::AttemptTimeout);
    }
    #[cfg(feature = "read-timeout")]
    if err.is::<crate::read_timeout::ReadTimedOut>() {
        return Some(RetryReason::ReadTimeout);
    }
    #[cfg(feature = "collect-body")]
    if err.is::<crate::collect_body::BodyReadFailed>() {
        return Some(RetryReason::BodyRead);
    }
    if err.is::<std::io::Error>() {
        return Some(RetryReason::Transport);
    }
    // What botocore calls a connection error: the connection closed (also
    // before the response was complete), a malformed response (botocore's
    // `ConnectionClosedError`), the request canceled because the connection
    // went away, a hyper timeout, or writing the request body aborted.
    // reqwest's own timeouts (the client's `timeout`, `read_timeout`,
    // `connect_timeout`) carry no I/O error beneath; botocore retries its
    // read and connect timeouts.
    #[cfg(feature = "reqwest")]
    if err
        .downcast_ref::<::reqwest::Error>()
        .is_some_and(|e| e.is_timeout() || e.is_connect())
    {
        return Some(RetryReason::Transport);
    }
    #[cfg(feature = "hyper")]
    if err.downcast_ref::<hyper::Error>().is_some_and(|e| {
        e.is_closed()
            || e.is_incomplete_message()
            || e.is_parse()
            || e.is_canceled()
            || e.is_timeout()
            || e.is_body_write_aborted()
    }) {
        return Some(RetryReason::Transport);
    }
    None
}

/// Whether one error of a source chain is a connection the server reset or
/// closed under the request before any response came: what a pooled
/// keep-alive connection that the server closed just before reuse looks like
/// (not a failure to connect).
fn is_reset(err: &(dyn StdError + 'static)) -> bool {
    use std::io::ErrorKind::*;
    if let Some(e) = err.downcast_ref::<std::io::Error>() {
        return matches!(
            e.kind(),
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
        );
    }
    #[cfg(feature = "hyper")]
    if let Some(e) = err.downcast_ref::<hyper::Error>() {
        return e.is_incomplete_message() || e.is_closed();
    }
    false
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
