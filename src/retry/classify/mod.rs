//! Which outcomes of an attempt are retried, worked out once per attempt.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, StatusCode};

mod errors;
mod outcome;
mod reason;

#[cfg(feature = "scale-from-zero")]
pub(crate) use self::errors::is_no_capacity_body;
#[cfg(any(feature = "aws-sdk", feature = "scale-from-zero"))]
pub(crate) use self::errors::is_no_capacity_head;
#[cfg(feature = "aws-sdk")]
pub(crate) use self::errors::is_no_capacity_message;
pub use self::errors::{ErrorBodyReadFailed, NoCapacity};
pub(crate) use self::outcome::Classified;
pub use self::reason::RetryReason;

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
///   [`ErrorCode::from_headers`](crate::ErrorCode::from_headers), as botocore compares them;
/// - transport errors (an [`std::io::Error`] anywhere in the source chain,
///   or, with feature `hyper`, a connection-level `hyper::Error`: closed,
///   incomplete message, canceled, timed out, body write aborted, or a
///   malformed response head, which botocore meets as a `ConnectionClosedError`;
///   with feature `reqwest`, a `reqwest::Error` that is a timeout or a connect error),
///   [`AttemptTimedOut`](super::AttemptTimedOut), and the `ReadTimedOut` and `BodyReadFailed` errors
///   of the `read_timeout` and `collect_body` modules.
///
/// Not retried: 424 `ModelError`, 400 `ValidationError`, 530, other 4xx, other errors.
/// [`scale_from_zero`](Self::scale_from_zero) opts in to one kind of
/// `ValidationError`: an inference component with no copy.
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
    scale_from_zero: bool,
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
    /// [`ErrorCode::from_headers`](crate::ErrorCode::from_headers) and compared exactly (case and whitespace
    /// included) with `code` as given.
    pub fn retry_error_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.extras().codes.push(code.into());
        self
    }

    /// Also retries the answer of an inference component that has no copy
    /// (scaled to zero, or scaling out): HTTP 400, error code
    /// `ValidationError` exactly, and the service's no-capacity message
    /// ([`NO_CAPACITY_MESSAGE`](crate::sagemaker::NO_CAPACITY_MESSAGE); its
    /// first sentence is compared). The reason is [`RetryReason::NoCapacity`]:
    /// such retries are paced by their own backoff and bounded by the call's
    /// deadline (see [`LegacyRetries::scale_out_backoff`](super::LegacyRetries::scale_out_backoff)).
    ///
    /// The message is in the body, which this classifier never reads: it
    /// reads the [`NoCapacity`] mark that `NoCapacityLayer` (feature
    /// `scale-from-zero`) puts on such a response beneath the retry layer, or
    /// the message given to [`classify_error_response`](Self::classify_error_response).
    /// A plain `ValidationError` (a bad header, a missing component) is never retried.
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue, StatusCode};
    /// use tower_sagemaker::retry::{RetryClassifier, RetryReason};
    /// use tower_sagemaker::sagemaker::NO_CAPACITY_MESSAGE;
    ///
    /// let classifier = RetryClassifier::legacy().scale_from_zero();
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-amzn-errortype", HeaderValue::from_static("ValidationError"));
    /// let answer = |message| classifier.classify_error_response(StatusCode::BAD_REQUEST, &headers, Some(message));
    /// assert_eq!(answer(NO_CAPACITY_MESSAGE), Some(RetryReason::NoCapacity));
    /// assert_eq!(answer("Endpoint demo of account 123456789012 not found."), None);
    /// ```
    pub fn scale_from_zero(mut self) -> Self {
        self.extras().scale_from_zero = true;
        self
    }

    /// Whether [`scale_from_zero`](Self::scale_from_zero) is on.
    pub fn get_scale_from_zero(&self) -> bool {
        self.extras.as_deref().is_some_and(|e| e.scale_from_zero)
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
}

impl fmt::Debug for RetryClassifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let extras = self.extras.as_deref().cloned().unwrap_or_default();
        f.debug_struct("RetryClassifier")
            .field("extra_statuses", &extras.statuses)
            .field("extra_codes", &extras.codes)
            .field("response_predicate", &extras.response_predicate.is_some())
            .field("error_predicate", &extras.error_predicate.is_some())
            .field("scale_from_zero", &extras.scale_from_zero)
            .finish()
    }
}
