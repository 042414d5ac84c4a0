//! The retry classifier: botocore's legacy conditions and delays for the SDK.

use aws_smithy_runtime_api::client::interceptors::context::{Error, InterceptorContext};
use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority, RetryReason as SdkRetryReason,
};
use aws_smithy_runtime_api::http::Headers;
use aws_smithy_types::error::metadata::ErrorMetadata;
use aws_smithy_types::retry::ErrorKind;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use std::time::Duration;

use super::calls::ColdStartMark;
use super::http_client::WaitedForTurn;
use super::interceptor::AttemptNumber;
use crate::error_code::ErrorCode;
use crate::retry::classify::{is_no_capacity_head, is_no_capacity_message};
use crate::retry::{
    whole_millis, AttemptTimedOut, LegacyBackoff, LegacyRetries, RetryClassifier, RetryReason,
};
use crate::sagemaker::ERROR_TYPE_HEADER;

/// An SDK retry classifier that retries what botocore's legacy mode retries,
/// `ModelNotReadyException` first, with [`LegacyBackoff`] delays.
///
/// It decides from the HTTP response's status and headers with the
/// [`RetryClassifier`] of its [`LegacyRetries`] ([`RetryClassifier::legacy`]
/// by default), and from transport failures: a connector I/O error or
/// timeout, or an attempt timeout (`operation_attempt_timeout`). Retryable
/// outcomes get
/// `RetryAction::retryable_error_with_explicit_delay(kind, backoff.delay(k))`,
/// `k` being the attempt that failed, when [`AttemptNumberInterceptor`](super::AttemptNumberInterceptor) is
/// registered; everything else gets `RetryAction::NoActionIndicated`. See the
/// [module docs](super) for how this combines with the SDK's classifiers.
///
/// The number of attempts is the SDK's `RetryConfig::max_attempts`
/// ([`legacy_retry_config`](super::legacy_retry_config)). With cold-start
/// coalescing, the probes a call waited through count as its attempts too:
/// once they and its own spend botocore's budget, its next failure is
/// `RetryAction::RetryForbidden` (the SDK's own classifiers would retry a
/// 503), and [`LegacyRetriesInterceptor`](super::LegacyRetriesInterceptor)
/// lowers the call's `max_attempts` so that an error without a response,
/// which this classifier cannot see the count of, is not retried either.
///
/// With [`RetryClassifier::scale_from_zero`] (as
/// [`LegacyRetries::scale_from_zero`] sets it), it also retries an inference
/// component's no-capacity answer (400 `ValidationError` with
/// [`NO_CAPACITY_MESSAGE`](crate::sagemaker::NO_CAPACITY_MESSAGE), read from
/// the SDK's parsed error: feature `aws-sdk-sagemakerruntime` for the
/// `InvokeEndpoint*` errors), as [`RetryReason::NoCapacity`]. When
/// [`AttemptNumberInterceptor::for_retries`](super::AttemptNumberInterceptor::for_retries)
/// recorded an `operation_timeout` for the call, the delay is the n-th
/// delay of the scale-out backoff for the call's n-th no-capacity answer,
/// and the retry is forbidden (`RetryAction::RetryForbidden`) when that
/// delay would end after the timeout; that interceptor keeps such retries
/// out of the SDK's `max_attempts`. Without one, the legacy rules apply.
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::aws_sdk::ModelNotReadyClassifier;
/// use tower_sagemaker::retry::{LegacyRetries, RetryClassifier};
///
/// let classifier = ModelNotReadyClassifier::new(
///     &LegacyRetries::new()
///         .max_delay(Duration::from_secs(10))
///         .classifier(RetryClassifier::legacy().retry_error_code("ModelError")),
/// );
/// // aws_sdk_sagemakerruntime::config::Builder::from(&sdk_config)
/// //     .retry_classifier(classifier)
/// //     .interceptor(tower_sagemaker::aws_sdk::AttemptNumberInterceptor::new())
/// # let _ = classifier;
/// ```
#[derive(Debug, Clone)]
pub struct ModelNotReadyClassifier {
    classifier: RetryClassifier,
    backoff: LegacyBackoff,
    scale_out_backoff: LegacyBackoff,
    max_retries: u32,
}

impl Default for ModelNotReadyClassifier {
    fn default() -> Self {
        Self::new(&LegacyRetries::new())
    }
}

impl ModelNotReadyClassifier {
    /// The classifier and backoff of `retries` (its other settings are the
    /// SDK's to apply: see [`legacy_retry_config`](super::legacy_retry_config)).
    pub fn new(retries: &LegacyRetries) -> Self {
        Self {
            classifier: retries.get_classifier().clone(),
            backoff: retries.get_backoff(),
            scale_out_backoff: retries.get_scale_out_backoff(),
            max_retries: retries.get_max_retries(),
        }
    }

    /// botocore's legacy conditions and backoff (base 1 s, no cap).
    pub fn legacy() -> Self {
        Self::default()
    }

    /// The backoff the delays are drawn from.
    pub fn get_backoff(&self) -> &LegacyBackoff {
        &self.backoff
    }

    /// The pacing of no-capacity retries (with
    /// [`RetryClassifier::scale_from_zero`] and an `operation_timeout`).
    pub fn get_scale_out_backoff(&self) -> &LegacyBackoff {
        &self.scale_out_backoff
    }

    /// Which responses and errors are retried.
    pub fn get_classifier(&self) -> &RetryClassifier {
        &self.classifier
    }

    /// Why the attempt in `ctx` should be retried, in this crate's terms, or
    /// `None` (success, or not retryable).
    pub fn reason(&self, ctx: &InterceptorContext) -> Option<RetryReason> {
        let Some(Err(error)) = ctx.output_or_error() else {
            return None;
        };
        if let Some(response) = ctx.response() {
            let status = StatusCode::from_u16(response.status().as_u16()).ok();
            if let Some(status) = status {
                let headers = to_header_map(response.headers());
                let message = error_message(error);
                if let Some(reason) = self
                    .classifier
                    .classify_error_response(status, &headers, message)
                {
                    return Some(reason);
                }
            }
        }
        self.error_reason(error)
    }

    fn error_reason(
        &self,
        error: &OrchestratorError<impl std::error::Error + 'static>,
    ) -> Option<RetryReason> {
        if error.is_timeout_error() {
            // `operation_attempt_timeout` fired: legacy mode retries timeouts.
            return Some(RetryReason::AttemptTimeout);
        }
        if let Some(connector) = error.as_connector_error() {
            if connector.is_timeout() && find_source::<AttemptTimedOut>(connector).is_some() {
                // `ColdStartsHttpClient`'s attempt timeout.
                return Some(RetryReason::AttemptTimeout);
            }
            if connector.is_io() || connector.is_timeout() {
                return Some(RetryReason::Transport);
            }
            if connector.is_user() {
                return None;
            }
            return self.classifier.classify_error(connector);
        }
        if error.is_response_error() {
            // The response could not be read (for example the connection broke
            // mid-body): retried if the cause is a transport error.
            return self.classifier.classify_error(error);
        }
        None
    }

    fn action(&self, ctx: &InterceptorContext, previous: &RetryAction) -> RetryAction {
        if waited_for_turn(ctx) {
            // Not sent after a wait for another call's probe: made again at
            // once, signed anew.
            return RetryAction::retryable_error_with_explicit_delay(
                ErrorKind::TransientError,
                Duration::ZERO,
            );
        }
        let Some(reason) = self.reason(ctx) else {
            return RetryAction::NoActionIndicated;
        };
        let kind = match previous {
            RetryAction::RetryIndicated(SdkRetryReason::RetryableError { kind, .. }) => *kind,
            _ => error_kind(reason, ctx),
        };
        let number = ctx
            .response()
            .and_then(|r| r.extension::<AttemptNumber>())
            .copied();
        // With cold-start coalescing, the probes the call waited through
        // count as its attempts, as with the crate's retry layer.
        let mark = ctx.response().and_then(|r| r.extension::<ColdStartMark>());
        if let Some(paced) = self.paced(reason, number) {
            // A no-capacity answer under an `operation_timeout`: outside
            // botocore's budget, paced by the scale-out backoff, no retry
            // whose backoff ends after the timeout.
            return match paced {
                _ if mark.is_some_and(|m| m.wait) => {
                    RetryAction::retryable_error_with_explicit_delay(kind, Duration::ZERO)
                }
                Paced::Retry(delay) => {
                    RetryAction::retryable_error_with_explicit_delay(kind, delay)
                }
                Paced::DeadlineWouldPass => RetryAction::RetryForbidden,
            };
        }
        if let Some(mark) = mark {
            if mark.counted > self.max_retries {
                // Spent, waited-through probes included: not retried, also
                // when the SDK's own classifiers would (a 503, say).
                return RetryAction::RetryForbidden;
            }
            if mark.wait {
                // `ColdStartsHttpClient` waits for another call's probe
                // before the next attempt: no backoff sleep.
                return RetryAction::retryable_error_with_explicit_delay(kind, Duration::ZERO);
            }
        }
        let attempt = match (mark, number) {
            (Some(mark), _) => Some(mark.counted),
            (None, Some(number)) => Some(number.legacy()),
            (None, None) => None,
        };
        match (attempt, number) {
            (Some(k), Some(number)) => RetryAction::retryable_error_with_explicit_delay(
                kind,
                whole_millis(self.backoff.delay_at(k, number.unit)),
            ),
            (Some(k), None) => RetryAction::retryable_error_with_explicit_delay(
                kind,
                whole_millis(self.backoff.delay(k)),
            ),
            // No attempt number: the SDK's own full-jitter backoff applies.
            (None, _) => RetryAction::retryable_error(kind),
        }
    }

    /// For a no-capacity answer paced by the scale-out backoff (the
    /// operation has an `operation_timeout`, which
    /// [`AttemptNumberInterceptor::for_retries`](super::AttemptNumberInterceptor::for_retries)
    /// recorded): the delay before the retry, or that none fits before the
    /// timeout. `None` for other outcomes: botocore's rules apply.
    fn paced(&self, reason: RetryReason, number: Option<AttemptNumber>) -> Option<Paced> {
        let number = number.filter(|_| reason == RetryReason::NoCapacity)?;
        let remaining = number.remaining?;
        let delay = self
            .scale_out_backoff
            .delay_at(number.paced.saturating_add(1), number.unit);
        let delay = whole_millis(delay);
        Some(match delay < remaining {
            true => Paced::Retry(delay),
            false => Paced::DeadlineWouldPass,
        })
    }

    /// Whether the attempt in `ctx` is a no-capacity answer whose paced
    /// retry would end after the `operation_timeout`, so that it is not
    /// retried: the events' [`Decision::DeadlineWouldPass`](crate::retry::Decision::DeadlineWouldPass).
    pub(super) fn deadline_would_pass(&self, ctx: &InterceptorContext) -> bool {
        let number = ctx
            .response()
            .and_then(|r| r.extension::<AttemptNumber>())
            .copied();
        self.reason(ctx)
            .and_then(|reason| self.paced(reason, number))
            .is_some_and(|p| matches!(p, Paced::DeadlineWouldPass))
    }
}

/// The decision on a paced no-capacity answer.
#[derive(Debug, Clone, Copy)]
enum Paced {
    Retry(Duration),
    DeadlineWouldPass,
}

/// The message of the modeled or unmodeled service error the SDK parsed
/// from the response (its `ErrorMetadata`), for the `SageMaker Runtime`
/// operations this crate knows (feature `aws-sdk-sagemakerruntime`).
fn error_message(error: &OrchestratorError<Error>) -> Option<&str> {
    let error = error.as_operation_error()?;
    #[cfg(feature = "aws-sdk-sagemakerruntime")]
    {
        use aws_sdk_sagemakerruntime::operation::{
            invoke_endpoint::InvokeEndpointError, invoke_endpoint_async::InvokeEndpointAsyncError,
            invoke_endpoint_with_response_stream::InvokeEndpointWithResponseStreamError,
        };
        use aws_smithy_types::error::metadata::ProvideErrorMetadata;
        if let Some(e) = error.downcast_ref::<InvokeEndpointError>() {
            return e.message();
        }
        if let Some(e) = error.downcast_ref::<InvokeEndpointWithResponseStreamError>() {
            return e.message();
        }
        if let Some(e) = error.downcast_ref::<InvokeEndpointAsyncError>() {
            return e.message();
        }
    }
    error.downcast_ref::<ErrorMetadata>()?.message()
}

/// Whether the attempt in `ctx` got the answer of an inference component
/// with no copy: HTTP 400, `ValidationError`, and the no-capacity message
/// in the error the SDK parsed.
pub(super) fn is_no_capacity(ctx: &InterceptorContext) -> bool {
    let (Some(response), Some(Err(error))) = (ctx.response(), ctx.output_or_error()) else {
        return false;
    };
    let status = StatusCode::from_u16(response.status().as_u16()).ok();
    let code = response
        .headers()
        .get(ERROR_TYPE_HEADER.as_str())
        .and_then(ErrorCode::parse);
    status.is_some_and(|status| is_no_capacity_head(status, code))
        && error_message(error).is_some_and(is_no_capacity_message)
}

/// The SDK error kind of a retry this crate decided alone. The kind sets the
/// token cost and whether the connection is dropped (transient errors).
fn error_kind(reason: RetryReason, ctx: &InterceptorContext) -> ErrorKind {
    match reason {
        // The endpoint is loading the model, or scaling the component out:
        // not a rate limit on the caller.
        RetryReason::ModelNotReady | RetryReason::NoCapacity => ErrorKind::ServerError,
        RetryReason::TooManyRequests | RetryReason::Throttling => ErrorKind::ThrottlingError,
        RetryReason::Transport | RetryReason::AttemptTimeout => ErrorKind::TransientError,
        _ if ctx.response().is_none() => ErrorKind::TransientError,
        _ => ErrorKind::ServerError,
    }
}

fn find_source<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

pub(super) fn to_header_map(headers: &Headers) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers.iter() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    map
}

impl ClassifyRetry for ModelNotReadyClassifier {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        self.action(ctx, &RetryAction::NoActionIndicated)
    }

    fn classify_retry_v2(&self, ctx: &InterceptorContext, previous: &RetryAction) -> RetryAction {
        self.action(ctx, previous)
    }

    fn name(&self) -> &'static str {
        "tower_sagemaker::ModelNotReadyClassifier"
    }

    /// After the SDK's transient error classifier, the last of its defaults.
    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// Whether the attempt is one `ColdStartsHttpClient` did not send after a
/// wait (it is made again, signed anew).
fn waited_for_turn(ctx: &InterceptorContext) -> bool {
    let Some(Err(error)) = ctx.output_or_error() else {
        return false;
    };
    error
        .as_connector_error()
        .is_some_and(|e| find_source::<WaitedForTurn>(e).is_some())
}

#[cfg(test)]
mod tests;
