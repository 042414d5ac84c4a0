//! [`LegacyRetriesInterceptor`]: the SDK hooks that drive an operation's
//! `SdkCall`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_smithy_runtime::client::retries::classifiers::run_classifiers_on_ctx;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextMut,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::retries::classifiers::{RetryAction, RetryReason as SdkReason};
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::RetryConfig;
use http::StatusCode;

use crate::aws_sdk::classifier::{to_header_map, ModelNotReadyClassifier};
use crate::aws_sdk::interceptor::{count_resend, operation_timeout};
use crate::error_code::ErrorCode;
use crate::retry::{Decision, LegacyRetries};

use super::{ColdStartMark, SdkCall};

/// An SDK interceptor that runs the parts of [`LegacyRetries`] the SDK's own
/// retry loop has no place for: the [`on_event`](LegacyRetries::on_event)
/// callbacks get the same [`RetryEvent`](crate::retry::RetryEvent)s as with the crate's retry layer,
/// and, with [`coalesce_cold_starts`](LegacyRetries::coalesce_cold_starts),
/// each operation keeps its place among the calls for its model for
/// [`ColdStartsHttpClient`](crate::aws_sdk::ColdStartsHttpClient), which waits and
/// sends.
///
/// `MultiModelEndpoint` (feature `aws-sdk-sagemakerruntime`) registers it
/// when the settings have callbacks or coalescing; register it by hand with
/// [`ModelNotReadyClassifier`](crate::aws_sdk::ModelNotReadyClassifier) built from the same [`LegacyRetries`].
///
/// What the events say, and where they differ from the tower layer's:
///
/// - `Attempt` as each attempt is handed to the HTTP client (with
///   coalescing, before that client's wait for another call's probe);
///   `remaining` is the time left of the SDK's `operation_timeout`.
/// - `Outcome` as each attempt ends (with its reason,
///   [`RetryReason::NoCapacity`](crate::retry::RetryReason::NoCapacity) for an
///   inference component's no-capacity answer; its target model and
///   inference component; the time since the call's first 429 and first
///   no-capacity answer), with the decision the SDK takes: its
///   classifiers' verdict (run as its retry strategy runs them), its
///   `max_attempts`, and the delay of [`ModelNotReadyClassifier`](crate::aws_sdk::ModelNotReadyClassifier)
///   (capped at the SDK's `max_backoff`). For an attempt without a response
///   (a transport error, a timeout), the SDK draws the delay itself; the
///   event then carries the legacy ceiling for the attempts counted under
///   botocore's budget (the SDK's own ceiling is higher after paced
///   no-capacity answers, which its attempt number counts).
/// - A call that the SDK's `operation_timeout` ends reports
///   [`Decision::DeadlineExceeded`] (also while it sleeps: the SDK has no
///   [`Decision::DeadlineWouldPass`], it sleeps into its timeout, except
///   after an inference component's no-capacity answer, which
///   [`ModelNotReadyClassifier`](crate::aws_sdk::ModelNotReadyClassifier)
///   does not retry when the paced retry would end after the timeout: that
///   reports [`Decision::DeadlineWouldPass`]); a call
///   whose future is dropped reports [`Decision::Cancelled`]; a call the SDK
///   stops retrying for its own reasons (a body it cannot rewind, an empty
///   retry quota) reports [`Decision::RetriesExhausted`]. Every call reports
///   exactly one final outcome, its last event.
///
/// ```
/// use tower_sagemaker::aws_sdk::{LegacyRetriesInterceptor, ModelNotReadyClassifier};
/// use tower_sagemaker::retry::{LegacyRetries, RetryEvent};
///
/// let retries = LegacyRetries::new().on_event(|event| {
///     if let RetryEvent::Outcome(outcome) = event {
///         eprintln!("attempt {}: {:?}", outcome.attempt, outcome.decision);
///     }
/// });
/// let interceptor = LegacyRetriesInterceptor::new(&retries);
/// let classifier = ModelNotReadyClassifier::new(&retries);
/// // aws_sdk_sagemakerruntime::config::Builder::from(&sdk_config)
/// //     .interceptor(interceptor)
/// //     .retry_classifier(classifier)
/// # let _ = (interceptor, classifier);
/// ```
#[derive(Debug, Clone)]
pub struct LegacyRetriesInterceptor {
    retries: LegacyRetries,
    attempt_timeout: Option<Duration>,
    // Tells this interceptor's operation state from another's (a client's
    // and a per-call override's both run); clones share it.
    id: u64,
}

/// The ids of `LegacyRetriesInterceptor`s.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl LegacyRetriesInterceptor {
    /// Reports to the callbacks of `retries` and, with coalescing, joins its
    /// [`ColdStarts`](crate::retry::ColdStarts).
    pub fn new(retries: &LegacyRetries) -> Self {
        Self {
            retries: retries.clone(),
            attempt_timeout: None,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// With coalescing: the timeout of each request
    /// [`ColdStartsHttpClient`](crate::aws_sdk::ColdStartsHttpClient) sends, counted
    /// from when it sends, after any wait for another call's probe. Use it
    /// in place of the SDK's `operation_attempt_timeout`, which would count
    /// the wait too (`MultiModelEndpoint` does). An attempt that passes it
    /// fails with [`AttemptTimedOut`](crate::retry::AttemptTimedOut) and is
    /// retried. Default: none.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    fn wanted(&self) -> bool {
        self.retries.has_event_callbacks() || self.retries.get_cold_starts().is_some()
    }

    /// The operation's call, when this interceptor drives it (a per-call
    /// override's interceptor takes it over from the client's).
    fn own_call<'a>(&self, cfg: &'a ConfigBag) -> Option<&'a SdkCall> {
        cfg.load::<SdkCall>().filter(|c| c.owned_by(self.id))
    }
}

impl Intercept for LegacyRetriesInterceptor {
    fn name(&self) -> &'static str {
        "tower_sagemaker::LegacyRetriesInterceptor"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.wanted() {
            if let Some(replaced) = cfg.load::<SdkCall>() {
                // A per-call override's interceptor takes the call over
                // from the client's, silently.
                replaced.lock().finished = true;
            }
            let call = SdkCall::new(self.id, self.retries.clone(), self.attempt_timeout);
            cfg.interceptor_state().store_put(call);
        }
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(call) = self.own_call(cfg) {
            let attempt = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
            call.attempt_starts(attempt, operation_timeout(cfg));
        }
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = self.own_call(cfg).cloned() else {
            return Ok(());
        };
        call.transmitted(context.request().headers());
        context.request_mut().add_extension(call);
        Ok(())
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = self.own_call(cfg).cloned() else {
            return Ok(());
        };
        let mark = {
            let mut state = call.lock();
            if state.finished || state.is_resending() {
                return Ok(());
            }
            let ctx = context.inner();
            let reason = ModelNotReadyClassifier::new(&state.retries).reason(ctx);
            let status = ctx
                .response()
                .and_then(|r| StatusCode::from_u16(r.status().as_u16()).ok());
            state.answered(status, reason);
            state.after_attempt(reason)
        };
        if let (Some(mark), Some(response)) = (mark, context.response_mut()) {
            response.add_extension(mark);
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = self.own_call(cfg).cloned() else {
            return Ok(());
        };
        let resent = {
            let mut state = call.lock();
            state.is_resending().then(|| state.resent())
        };
        if let Some(resends) = resent {
            // Not sent: made again at once, not counted, not reported.
            count_resend(cfg, resends);
            return Ok(());
        }
        if call.lock().spent() {
            // The SDK counts only the call's own attempts; botocore's budget,
            // with the probes the call waited through, is spent: no retry,
            // also after an error without a response, which the classifier
            // cannot mark. (Last of the attempt's hooks: nothing raises it
            // again after this.)
            let attempts = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
            if let Some(retry) = cfg.load::<RetryConfig>() {
                let capped = retry.clone().with_max_attempts(attempts);
                cfg.interceptor_state().store_put(capped);
            }
        }
        let ctx = context.inner();
        let action = run_classifiers_on_ctx(runtime_components.retry_classifiers(), ctx);
        let retry = cfg.load::<RetryConfig>();
        let max_attempts = retry.map_or(1, |r| r.max_attempts());
        let max_backoff = retry.map_or(Duration::MAX, |r| r.max_backoff());
        let mut state = call.lock();
        if state.hooks_empty() || state.deadline_passed() {
            // The execution's end reports the timeout, as this attempt's end.
            return Ok(());
        }
        state.in_attempt = false;
        let classifier = ModelNotReadyClassifier::new(&state.retries);
        let reason = classifier.reason(ctx);
        let mark = ctx
            .response()
            .and_then(|r| r.extension::<ColdStartMark>())
            .copied();
        let decision = match &action {
            RetryAction::RetryForbidden if classifier.deadline_would_pass(ctx) => {
                Decision::DeadlineWouldPass
            }
            RetryAction::RetryIndicated(why) => {
                if state.attempts >= max_attempts {
                    Decision::RetriesExhausted
                } else if mark.is_some_and(|m| m.wait) {
                    Decision::WaitForModel
                } else {
                    let delay = match why {
                        SdkReason::RetryableError {
                            retry_after: Some(delay),
                            ..
                        } => (*delay).min(max_backoff),
                        _ => {
                            let counted = mark.map_or(state.legacy_attempts(), |m| m.counted);
                            state
                                .retries
                                .get_backoff()
                                .ceiling(counted)
                                .min(max_backoff)
                        }
                    };
                    Decision::Retry { delay }
                }
            }
            _ if reason.is_some() => Decision::RetriesExhausted,
            _ => Decision::Return,
        };
        let headers = ctx.response().map(|r| to_header_map(r.headers()));
        let status = ctx
            .response()
            .and_then(|r| StatusCode::from_u16(r.status().as_u16()).ok());
        let error: Option<&(dyn std::error::Error + 'static)> =
            match (status, ctx.output_or_error()) {
                (None, Some(Err(e))) => Some(e),
                _ => None,
            };
        let code = match (status, &headers) {
            (Some(s), Some(h)) if !s.is_success() => ErrorCode::from_headers(h),
            _ => None,
        };
        state.report(status, code, error, reason, decision);
        if decision.is_final() {
            state.finish();
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = self.own_call(cfg) else {
            return Ok(());
        };
        let mut state = call.lock();
        if state.finished {
            return Ok(());
        }
        if !state.hooks_empty() {
            let ctx = context.inner();
            let error: Option<&(dyn std::error::Error + 'static)> = match ctx.output_or_error() {
                Some(Err(e)) => Some(e),
                _ => None,
            };
            let decision = match state.deadline_passed() {
                true => Decision::DeadlineExceeded,
                false => Decision::RetriesExhausted,
            };
            let reason = match decision {
                Decision::DeadlineExceeded => None,
                _ => ModelNotReadyClassifier::new(&state.retries).reason(ctx),
            };
            state.report_call_end(error, reason, decision);
        }
        state.finish();
        Ok(())
    }
}
