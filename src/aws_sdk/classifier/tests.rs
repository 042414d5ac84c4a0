//! The classifier's decisions on hand-made interceptor contexts.

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
        &LegacyRetries::new().classifier(RetryClassifier::legacy().retry_error_code("ModelError")),
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
    // Beyond the retries: not retried, whatever other classifiers say.
    assert_eq!(marked(5, false), RetryAction::RetryForbidden);
}

/// A 400 `ValidationError` whose parsed error carries `message`, with
/// the attempt number the interceptor records (`paced` no-capacity
/// answers before, `remaining` of the operation timeout).
fn validation_error(
    message: &str,
    number: Option<(u32, u32, Option<Duration>)>,
) -> InterceptorContext {
    let mut ctx = InterceptorContext::new(Input::doesnt_matter());
    let mut res = response(
        400,
        Some("ValidationError:http://internal.amazon.com/coral/com.amazon.sagemaker/"),
    );
    if let Some((attempt, paced, remaining)) = number {
        res.add_extension(AttemptNumber {
            attempt,
            paced,
            remaining,
            unit: 0.5,
        });
    }
    ctx.set_response(res);
    let meta = ErrorMetadata::builder()
        .code("ValidationError")
        .message(message)
        .build();
    ctx.set_output_or_error(Err(OrchestratorError::operation(Error::erase(meta))));
    ctx
}

#[test]
fn no_capacity_is_retried_paced_only_with_scale_from_zero() {
    use crate::sagemaker::NO_CAPACITY_MESSAGE;
    let off = ModelNotReadyClassifier::legacy();
    let on = ModelNotReadyClassifier::new(&LegacyRetries::new().scale_from_zero());
    let minute = Some(Duration::from_secs(60));
    let ctx = validation_error(NO_CAPACITY_MESSAGE, Some((7, 5, minute)));
    assert!(is_no_capacity(&ctx));
    assert_eq!(off.classify_retry(&ctx), RetryAction::NoActionIndicated);
    assert_eq!(on.reason(&ctx), Some(RetryReason::NoCapacity));
    let action = on.classify_retry(&ctx);
    assert_eq!(kind_of(&action), Some(ErrorKind::ServerError));
    // The 6th paced retry, drawn at 0.5: 10 + 0.5 * (30 - 10) s.
    assert_eq!(delay_of(&action), Some(Duration::from_secs(20)));
    // The first: 10 + 0.5 * (20 - 10) s.
    let first = validation_error(NO_CAPACITY_MESSAGE, Some((1, 0, minute)));
    assert_eq!(
        delay_of(&on.classify_retry(&first)),
        Some(Duration::from_secs(15))
    );
    assert!(!on.deadline_would_pass(&first));
    // No retry whose backoff ends after the operation timeout.
    let late = validation_error(
        NO_CAPACITY_MESSAGE,
        Some((9, 8, Some(Duration::from_secs(20)))),
    );
    assert_eq!(on.classify_retry(&late), RetryAction::RetryForbidden);
    assert!(on.deadline_would_pass(&late));
    // Without an operation timeout: botocore's budget and backoff (the
    // SDK's max_attempts ends it), rand * 2^(k-1) s.
    let unbounded = validation_error(NO_CAPACITY_MESSAGE, Some((3, 0, None)));
    assert_eq!(
        delay_of(&on.classify_retry(&unbounded)),
        Some(Duration::from_secs(2))
    );
    // A plain ValidationError is never retried.
    for message in [
        "Inference Component Name header is required for endpoints to which you plan to deploy inference components.",
        "Inference component ic-x not found.",
    ] {
        let ctx = validation_error(message, Some((1, 0, minute)));
        assert!(!is_no_capacity(&ctx));
        assert_eq!(on.classify_retry(&ctx), RetryAction::NoActionIndicated);
    }
}

#[cfg(feature = "aws-sdk-sagemakerruntime")]
#[test]
fn the_message_of_the_operation_error() {
    use crate::sagemaker::NO_CAPACITY_MESSAGE;
    use aws_sdk_sagemakerruntime::operation::invoke_endpoint::InvokeEndpointError;
    let on = ModelNotReadyClassifier::new(&LegacyRetries::new().scale_from_zero());
    let mut ctx = validation_error("", None);
    let error = InvokeEndpointError::generic(
        ErrorMetadata::builder()
            .code("ValidationError")
            .message(NO_CAPACITY_MESSAGE)
            .build(),
    );
    ctx.set_output_or_error(Err(OrchestratorError::operation(Error::erase(error))));
    assert_eq!(on.reason(&ctx), Some(RetryReason::NoCapacity));
    // No attempt number: the SDK's backoff and max_attempts.
    assert_eq!(delay_of(&on.classify_retry(&ctx)), None);
    assert!(on.classify_retry(&ctx).should_retry());
}

#[test]
fn runs_after_the_sdk_defaults() {
    let p = ModelNotReadyClassifier::legacy().priority();
    assert!(p > RetryClassifierPriority::transient_error_classifier());
    assert!(p > RetryClassifierPriority::modeled_as_retryable_classifier());
    assert!(p > RetryClassifierPriority::http_status_code_classifier());
}
