//! Classifying an attempt's outcome: one parse of the error code, one walk
//! of the error chain.

use std::error::Error as StdError;

use http::{HeaderMap, StatusCode};
use tower::BoxError;

use super::errors::{is_no_capacity_head, is_no_capacity_message, is_reset, known_reason};
use super::{ErrorBodyReadFailed, NoCapacity, RetryClassifier, RetryReason};
use crate::error_code::ErrorCode;
use crate::legacy::LegacyRetry;

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
    /// Why a response with this head is retried, or `None`. The head alone
    /// never shows [`RetryReason::NoCapacity`]: see
    /// [`classify_http_response`](Self::classify_http_response).
    #[inline]
    pub fn classify_response(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Option<RetryReason> {
        self.classify_head(status, headers, || false).reason
    }

    /// Why a response is retried, or `None`: its head, and its
    /// [`NoCapacity`] and [`ErrorBodyReadFailed`] marks.
    pub fn classify_http_response<B>(&self, response: &http::Response<B>) -> Option<RetryReason> {
        self.classify_marked(response).reason
    }

    /// A response by its head and its marks.
    #[inline]
    fn classify_marked<'a, B>(&self, res: &'a http::Response<B>) -> Classified<'a> {
        self.classify_parts(res.status(), res.headers(), res.extensions())
    }

    /// A response by its head and the marks in its `extensions`: the one
    /// rule for every driver, also those whose response is not an
    /// `http::Response` (reqwest's).
    #[inline]
    pub(crate) fn classify_parts<'a>(
        &self,
        status: StatusCode,
        headers: &'a HeaderMap,
        extensions: &http::Extensions,
    ) -> Classified<'a> {
        let mut classified =
            self.classify_head(status, headers, || extensions.get::<NoCapacity>().is_some());
        // botocore reads an error body inside its retry loop: a failure
        // reading it is retried, whatever the head says.
        if classified.reason.is_none()
            && !status.is_success()
            && extensions.get::<ErrorBodyReadFailed>().is_some()
        {
            classified.reason = Some(RetryReason::BodyRead);
        }
        classified
    }

    /// Why an error response is retried, or `None`, for a caller that has
    /// read its message (the AWS SDK's error metadata does).
    pub fn classify_error_response(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        message: Option<&str>,
    ) -> Option<RetryReason> {
        self.classify_head(status, headers, || {
            message.is_some_and(is_no_capacity_message)
        })
        .reason
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
            Ok(res) => self.classify_marked(res),
            Err(err) => self.classify_err(&**err),
        }
    }

    /// Classifies a response by its head and whether it carries the
    /// [`NoCapacity`] mark: the one rule for every driver, also those whose
    /// response is not an `http::Response` (reqwest-middleware's).
    #[inline]
    pub(crate) fn classify_head<'a>(
        &self,
        status: StatusCode,
        headers: &'a HeaderMap,
        no_capacity: impl FnOnce() -> bool,
    ) -> Classified<'a> {
        // The common case, kept inline: the legacy rules never retry a
        // success, and a success's head is not read.
        if self.extras.is_none() && status.is_success() {
            return Classified::default();
        }
        let code = (!status.is_success())
            .then(|| ErrorCode::from_headers(headers))
            .flatten();
        Classified {
            reason: self.response_reason(status, headers, code, no_capacity),
            code,
            reset: false,
        }
    }

    fn response_reason(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        code: Option<ErrorCode<'_>>,
        no_capacity: impl FnOnce() -> bool,
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
        if extras.scale_from_zero && is_no_capacity_head(status, code) && no_capacity() {
            return Some(RetryReason::NoCapacity);
        }
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
