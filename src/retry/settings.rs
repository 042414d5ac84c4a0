//! [`LegacyRetries`]: the one settings value of botocore's legacy retries.

use std::sync::Arc;
use std::time::Duration;

use super::event::Hooks;
use super::{ColdStarts, LegacyBackoff, RetryClassifier, RetryEvent};
use crate::sagemaker::internal::LEGACY_MAX_RETRIES;

/// botocore's legacy retries, as one value: how many, how far apart, what
/// is retried, and the opt-ins (cold-start coalescing, an immediate retry
/// after a reset connection, event callbacks).
///
/// Every retrier of the crate takes it:
/// [`ModelNotReadyRetryLayer::new`](super::ModelNotReadyRetryLayer::new),
/// `LegacyRetryPolicy::new` (feature `retry-policy`), the AWS SDK's
/// `MultiModelEndpoint::retries` (feature `aws-sdk-sagemakerruntime`) and the
/// reqwest strategy and backoff policy (feature `reqwest`). Clones share the
/// coalescing state and the callbacks.
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::retry::{ColdStarts, LegacyRetries, ModelNotReadyRetryLayer, RetryClassifier};
///
/// let retries = LegacyRetries::new()
///     .max_retries(2)
///     .max_delay(Duration::from_secs(5))
///     .classifier(RetryClassifier::legacy().retry_error_code("ModelError"))
///     .coalesce_cold_starts(ColdStarts::new());
/// let layer = ModelNotReadyRetryLayer::new(retries);
/// assert_eq!(layer.get_retries().get_max_retries(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct LegacyRetries {
    pub(super) max_retries: u32,
    pub(super) backoff: LegacyBackoff,
    pub(super) scale_out_backoff: LegacyBackoff,
    pub(super) classifier: RetryClassifier,
    pub(super) reset_connection_at_once: bool,
    pub(super) attempt_headers: bool,
    pub(super) cold_starts: Option<ColdStarts>,
    pub(super) hooks: Hooks,
}

impl Default for LegacyRetries {
    fn default() -> Self {
        Self::new()
    }
}

impl LegacyRetries {
    /// botocore's legacy mode: 4 retries (5 attempts), full-jitter backoff
    /// with base 1 s and no cap, [`RetryClassifier::legacy`], no opt-ins.
    pub fn new() -> Self {
        Self {
            max_retries: LEGACY_MAX_RETRIES,
            backoff: LegacyBackoff::new(),
            scale_out_backoff: LegacyBackoff::scale_out(),
            classifier: RetryClassifier::legacy(),
            reset_connection_at_once: false,
            attempt_headers: true,
            cold_starts: None,
            hooks: Hooks::default(),
        }
    }

    /// Retries after the first attempt: botocore's
    /// `retries={'max_attempts': n}` (so `n + 1` attempts). 0 turns retries off.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// The ceiling of the first retry's delay (default 1 s); later ceilings double.
    pub fn base_delay(mut self, base: Duration) -> Self {
        self.backoff = self.backoff.base_delay(base);
        self
    }

    /// Caps every backoff ceiling (botocore's legacy mode has no cap).
    pub fn max_delay(mut self, max: Duration) -> Self {
        self.backoff = self.backoff.max_delay(max);
        self
    }

    /// Replaces the backoff.
    pub fn backoff(mut self, backoff: LegacyBackoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Replaces the classifier, to retry more statuses, codes or errors.
    pub fn classifier(mut self, classifier: RetryClassifier) -> Self {
        self.classifier = classifier;
        self
    }

    /// Rides through an inference component scaling from zero: turns on
    /// [`RetryClassifier::scale_from_zero`] in the classifier. Its retries
    /// ([`RetryReason::NoCapacity`](super::RetryReason::NoCapacity)) are
    /// paced by [`scale_out_backoff`](Self::scale_out_backoff) and bounded
    /// by the call's [`Deadline`](crate::deadline::Deadline), not by
    /// `max_retries`, so a call rides a scale-out of several minutes given a
    /// deadline that covers it (the recommended stack for components sets 10
    /// minutes). Without a deadline they count against `max_retries` and
    /// take the legacy backoff, so a call is never unbounded.
    /// Give the layer the message to read: `NoCapacityLayer` (feature
    /// `scale-from-zero`) beneath it.
    pub fn scale_from_zero(mut self) -> Self {
        self.classifier = self.classifier.scale_from_zero();
        self
    }

    /// Replaces the pacing of no-capacity retries (default
    /// [`LegacyBackoff::scale_out`]: 10 to 30 s apart).
    pub fn scale_out_backoff(mut self, backoff: LegacyBackoff) -> Self {
        self.scale_out_backoff = backoff;
        self
    }

    /// Whether to make the first retry at once, without a backoff, when the
    /// first attempt's connection was reset or closed before any response
    /// came (default `false`, as botocore). That is what a pooled keep-alive
    /// connection looks like when the server closed it just before reuse: a
    /// new connection will reach a server that answers. Later retries, and
    /// every other failure, keep the legacy backoff.
    pub fn reset_connection_at_once(mut self, at_once: bool) -> Self {
        self.reset_connection_at_once = at_once;
        self
    }

    /// Whether the retry layer sends, as botocore and the AWS SDKs do,
    /// `amz-sdk-invocation-id` (one UUID for all the attempts of a call;
    /// one the request already has is kept) and `amz-sdk-request:
    /// attempt=N; max=M` on every attempt (default `true`). The service and
    /// AWS support tie a call's attempts together by them; put `SigV4Layer`
    /// beneath the retry layer and they are signed.
    ///
    /// The AWS SDKs also add `ttl=` on retries, which the retry layer does
    /// not; botocore leaves `max` out of a first attempt. `LegacyRetryPolicy`
    /// sends neither header: `tower::retry::Retry` sends a call's first
    /// attempt before it asks the policy anything.
    pub fn attempt_headers(mut self, on: bool) -> Self {
        self.attempt_headers = on;
        self
    }

    /// Turns on cold-start coalescing with `cold_starts` as the shared
    /// state: while a model loads, one call at a time asks the endpoint
    /// about it and the others wait (see [`ColdStarts`]). Off by default:
    /// without it, botocore's legacy mode. Give two retriers the same
    /// `ColdStarts` (a clone) to have them coalesce together.
    pub fn coalesce_cold_starts(mut self, cold_starts: ColdStarts) -> Self {
        self.cold_starts = Some(cold_starts);
        self
    }

    /// Calls `callback` with a [`RetryEvent`] as each attempt starts and
    /// ends, and once as the call ends. More than one callback may be added;
    /// they run in order, on the task that polls the call, so they should be
    /// quick. See [`RetryEvent`] for what is reported when, with an example.
    pub fn on_event<F>(mut self, callback: F) -> Self
    where
        F: Fn(&RetryEvent<'_>) + Send + Sync + 'static,
    {
        self.hooks.add(Arc::new(callback));
        self
    }

    /// The number of retries after the first attempt.
    pub fn get_max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The backoff.
    pub fn get_backoff(&self) -> LegacyBackoff {
        self.backoff
    }

    /// The pacing of no-capacity retries.
    pub fn get_scale_out_backoff(&self) -> LegacyBackoff {
        self.scale_out_backoff
    }

    /// The classifier.
    pub fn get_classifier(&self) -> &RetryClassifier {
        &self.classifier
    }

    /// Whether the first retry after a reset connection is made at once.
    pub fn get_reset_connection_at_once(&self) -> bool {
        self.reset_connection_at_once
    }

    /// Whether the retry layer sends `amz-sdk-invocation-id` and `amz-sdk-request`.
    pub fn get_attempt_headers(&self) -> bool {
        self.attempt_headers
    }

    /// The cold-start coalescing state, when coalescing is on.
    pub fn get_cold_starts(&self) -> Option<&ColdStarts> {
        self.cold_starts.as_ref()
    }

    /// Whether any event callback is set.
    pub fn has_event_callbacks(&self) -> bool {
        !self.hooks.is_empty()
    }

    /// Gives `event` to the callbacks (the AWS SDK integration and the
    /// reqwest middleware report through this).
    #[cfg(any(feature = "aws-sdk", feature = "reqwest"))]
    pub(crate) fn emit(&self, event: &RetryEvent<'_>) {
        self.hooks.emit(event);
    }
}
