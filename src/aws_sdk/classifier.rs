//! The retry classifier: botocore's legacy conditions and delays for the SDK.

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority, RetryReason as SdkRetryReason,
};
use aws_smithy_runtime_api::http::Headers;
use aws_smithy_types::retry::ErrorKind;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use std::time::Duration;

use super::calls::ColdStartMark;
use super::interceptor::AttemptNumber;
use crate::retry::{AttemptTimedOut, LegacyBackoff, LegacyRetries, RetryClassifier, RetryReason};

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
/// ([`legacy_retry_config`](super::legacy_retry_config)).
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
                if let Some(reason) = self.classifier.classify_response(status, &headers) {
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
        let Some(reason) = self.reason(ctx) else {
            return RetryAction::NoActionIndicated;
        };
        let kind = match previous {
            RetryAction::RetryIndicated(SdkRetryReason::RetryableError { kind, .. }) => *kind,
            _ => error_kind(reason, ctx),
        };
        // With cold-start coalescing, the probes the call waited through
        // count as its attempts, as with the crate's retry layer.
        let mark = ctx.response().and_then(|r| r.extension::<ColdStartMark>());
        if let Some(mark) = mark {
            if mark.counted > self.max_retries {
                return RetryAction::NoActionIndicated;
            }
            if mark.wait {
                // `ColdStartsHttpClient` waits for another call's probe
                // before the next attempt: no backoff sleep.
                return RetryAction::retryable_error_with_explicit_delay(kind, Duration::ZERO);
            }
        }
        let attempt = match mark {
            Some(mark) => Some(mark.counted),
            None => ctx
                .response()
                .and_then(|r| r.extension::<AttemptNumber>())
                .map(|a| a.0),
        };
        match attempt {
            Some(k) => {
                RetryAction::retryable_error_with_explicit_delay(kind, self.backoff.delay(k))
            }
            // No attempt number: the SDK's own full-jitter backoff applies.
            None => RetryAction::retryable_error(kind),
        }
    }
}

/// The SDK error kind of a retry this crate decided alone. The kind sets the
/// token cost and whether the connection is dropped (transient errors).
fn error_kind(reason: RetryReason, ctx: &InterceptorContext) -> ErrorKind {
    match reason {
        // The endpoint is loading the model: not a rate limit on the caller.
        RetryReason::ModelNotReady => ErrorKind::ServerError,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws_sdk::interceptor::record_attempt;
    use aws_smithy_runtime_api::client::interceptors::context::{Error, Input};
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::Response;
    use aws_smithy_types::body::SdkBody;
    use std::time::Duration;

    fn response(status: u16, code: Option<&'static str>) -> Response {
        let mut r = Response::new(status.try_into().unwrap(), SdkBody::empty());
        if let Some(code) = code {
            r.headers_mut().insert("x-amzn-errortype", code);
        }
        r
    }

    #[derive(Debug)]
    struct ServiceErr;
    impl std::fmt::Display for ServiceErr {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("service error")
        }
    }
    impl std::error::Error for ServiceErr {}

    fn failed_with_response(
        status: u16,
        code: Option<&'static str>,
        attempt: Option<u32>,
    ) -> InterceptorContext {
        let mut ctx = InterceptorContext::new(Input::doesnt_matter());
        let mut res = response(status, code);
        if let Some(k) = attempt {
            record_attempt(&mut res, k);
        }
        ctx.set_response(res);
        ctx.set_output_or_error(Err(OrchestratorError::operation(Error::erase(ServiceErr))));
        ctx
    }

    fn failed_with(error: OrchestratorError<Error>) -> InterceptorContext {
        let mut ctx = InterceptorContext::new(Input::doesnt_matter());
        ctx.set_output_or_error(Err(error));
        ctx
    }

    fn delay_of(action: &RetryAction) -> Option<Duration> {
        match action {
            RetryAction::RetryIndicated(SdkRetryReason::RetryableError { retry_after, .. }) => {
                *retry_after
            }
            _ => None,
        }
    }

    fn kind_of(action: &RetryAction) -> Option<ErrorKind> {
        match action {
            RetryAction::RetryIndicated(SdkRetryReason::RetryableError { kind, .. }) => Some(*kind),
            _ => None,
        }
    }

    #[test]
    fn model_not_ready_is_retried_with_the_legacy_delay() {
        let retries = LegacyRetries::new().base_delay(Duration::from_millis(100));
        let backoff = retries.get_backoff();
        let c = ModelNotReadyClassifier::new(&retries);
        for k in 1..=5 {
            let ctx = failed_with_response(429, Some("ModelNotReadyException"), Some(k));
            for _ in 0..50 {
                let action = c.classify_retry(&ctx);
                assert!(action.should_retry());
                assert_eq!(kind_of(&action), Some(ErrorKind::ServerError));
                assert!(
                    delay_of(&action).unwrap() < backoff.ceiling(k),
                    "attempt {k}"
                );
            }
        }
        // Other 429s are throttling.
        let ctx = failed_with_response(429, Some("TooManyRequests"), Some(1));
        assert_eq!(
            kind_of(&c.classify_retry(&ctx)),
            Some(ErrorKind::ThrottlingError)
        );
    }

    #[test]
    fn without_an_attempt_number_the_sdk_computes_the_delay() {
        let c = ModelNotReadyClassifier::legacy();
        let ctx = failed_with_response(429, Some("ModelNotReadyException"), None);
        let action = c.classify_retry(&ctx);
        assert!(action.should_retry());
        assert_eq!(delay_of(&action), None);
    }

    #[test]
    fn legacy_statuses_and_non_retryable_errors() {
        let c = ModelNotReadyClassifier::legacy();
        for s in [500, 502, 503, 504, 509] {
            assert!(
                c.classify_retry(&failed_with_response(s, None, Some(1)))
                    .should_retry(),
                "{s}"
            );
        }
        assert!(c
            .classify_retry(&failed_with_response(
                400,
                Some("ThrottlingException"),
                Some(1)
            ))
            .should_retry());
        for (s, code) in [
            (424, "ModelError"),
            (400, "ValidationError"),
            (530, "InternalDependencyException"),
            (400, "TooManyRequestsException"),
        ] {
            assert_eq!(
                c.classify_retry(&failed_with_response(s, Some(code), Some(1))),
                RetryAction::NoActionIndicated,
                "{s} {code}"
            );
        }
        // Success: nothing to say.
        let mut ok = InterceptorContext::new(Input::doesnt_matter());
        ok.set_response(response(200, None));
        ok.set_output_or_error(Ok(
            aws_smithy_runtime_api::client::interceptors::context::Output::doesnt_matter(),
        ));
        assert_eq!(c.classify_retry(&ok), RetryAction::NoActionIndicated);
    }

    #[test]
    fn configured_classifier_is_used() {
        let c = ModelNotReadyClassifier::new(
            &LegacyRetries::new()
                .classifier(RetryClassifier::legacy().retry_error_code("ModelError")),
        );
        assert!(c
            .classify_retry(&failed_with_response(424, Some("ModelError"), Some(2)))
            .should_retry());
    }

    #[test]
    fn previous_kind_is_kept() {
        let c = ModelNotReadyClassifier::legacy();
        let ctx = failed_with_response(503, None, Some(1));
        let action = c.classify_retry_v2(&ctx, &RetryAction::transient_error());
        assert_eq!(kind_of(&action), Some(ErrorKind::TransientError));
        assert!(delay_of(&action).unwrap() < Duration::from_secs(1));
        let action = c.classify_retry(&ctx);
        assert_eq!(kind_of(&action), Some(ErrorKind::ServerError));
    }

    #[test]
    fn transport_errors() {
        let c = ModelNotReadyClassifier::legacy();
        let io = failed_with(OrchestratorError::connector(ConnectorError::io(
            "reset".into(),
        )));
        let action = c.classify_retry(&io);
        assert_eq!(kind_of(&action), Some(ErrorKind::TransientError));
        let timeout = failed_with(OrchestratorError::connector(ConnectorError::timeout(
            "slow".into(),
        )));
        assert!(c.classify_retry(&timeout).should_retry());
        let attempt_timeout = failed_with(OrchestratorError::timeout("attempt timeout".into()));
        assert_eq!(
            c.reason(&attempt_timeout),
            Some(RetryReason::AttemptTimeout)
        );
        let user = failed_with(OrchestratorError::connector(ConnectorError::user(
            "bad".into(),
        )));
        assert_eq!(c.classify_retry(&user), RetryAction::NoActionIndicated);
        let other = failed_with(OrchestratorError::other("signing failed"));
        assert_eq!(c.classify_retry(&other), RetryAction::NoActionIndicated);
    }

    #[test]
    fn coalescing_marks_set_the_delay_and_the_budget() {
        use crate::aws_sdk::calls::ColdStartMark;
        let c = ModelNotReadyClassifier::new(&LegacyRetries::new().max_retries(4));
        let marked = |counted, wait| {
            let mut ctx = failed_with_response(429, Some("ModelNotReadyException"), Some(1));
            let mut res = response(429, Some("ModelNotReadyException"));
            res.add_extension(ColdStartMark { counted, wait });
            ctx.set_response(res);
            c.classify_retry(&ctx)
        };
        // Waiting for another call's probe: no backoff sleep.
        assert_eq!(delay_of(&marked(2, true)), Some(Duration::ZERO));
        // The probes waited through count: the fourth retry's ceiling.
        let action = marked(4, false);
        assert!(delay_of(&action).unwrap() < Duration::from_secs(8));
        // Beyond the retries: not retried.
        assert_eq!(marked(5, false), RetryAction::NoActionIndicated);
    }

    #[test]
    fn runs_after_the_sdk_defaults() {
        let p = ModelNotReadyClassifier::legacy().priority();
        assert!(p > RetryClassifierPriority::transient_error_classifier());
        assert!(p > RetryClassifierPriority::modeled_as_retryable_classifier());
        assert!(p > RetryClassifierPriority::http_status_code_classifier());
    }
}
