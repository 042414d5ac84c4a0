use std::time::Duration;

use tower_layer::Layer;

use super::{LegacyBackoff, ModelNotReadyRetry, RetryClassifier, Settings};
use crate::sagemaker::internal::LEGACY_MAX_RETRIES;
use crate::sagemaker::RECOMMENDED_ATTEMPT_TIMEOUT;

/// Retries `ModelNotReadyException` and other transient failures the way
/// botocore's legacy mode (boto3's default) does.
///
/// Defaults ([`ModelNotReadyRetryLayer::legacy`], also `default()`): 4 retries
/// (5 attempts), full-jitter backoff `rand * 2^(k-1)` s before retry `k` with
/// no cap, a 70 s timeout per attempt, and [`RetryClassifier::legacy`].
/// See the [module docs](super) for the full behaviour.
#[derive(Debug, Clone)]
pub struct ModelNotReadyRetryLayer {
    settings: Settings,
}

impl ModelNotReadyRetryLayer {
    /// botocore's legacy retry mode, with a 70 s per-attempt timeout.
    pub fn legacy() -> Self {
        Self {
            settings: Settings {
                max_retries: LEGACY_MAX_RETRIES,
                attempt_timeout: Some(RECOMMENDED_ATTEMPT_TIMEOUT),
                backoff: LegacyBackoff::new(),
                classifier: RetryClassifier::legacy(),
                reset_connection_at_once: false,
                hooks: Default::default(),
            },
        }
    }

    /// Retries after the first attempt: botocore's
    /// `retries={'max_attempts': n}` (so `n + 1` attempts). 0 turns retries off.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.settings.max_retries = n;
        self
    }

    /// Timeout of each attempt (default 70 s). With a
    /// [`Deadline`](crate::deadline::Deadline) each attempt gets at most the time left.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.settings.attempt_timeout = Some(timeout);
        self
    }

    /// No per-attempt timeout (a [`Deadline`](crate::deadline::Deadline) still applies).
    pub fn no_attempt_timeout(mut self) -> Self {
        self.settings.attempt_timeout = None;
        self
    }

    /// The ceiling of the first retry's delay (default 1 s); later ceilings double.
    pub fn base_delay(mut self, base: Duration) -> Self {
        self.settings.backoff = self.settings.backoff.base_delay(base);
        self
    }

    /// Caps every backoff ceiling (botocore's legacy mode has no cap).
    pub fn max_delay(mut self, max: Duration) -> Self {
        self.settings.backoff = self.settings.backoff.max_delay(max);
        self
    }

    /// Replaces the backoff.
    pub fn backoff(mut self, backoff: LegacyBackoff) -> Self {
        self.settings.backoff = backoff;
        self
    }

    /// Replaces the classifier, to retry more statuses, codes or errors.
    pub fn classifier(mut self, classifier: RetryClassifier) -> Self {
        self.settings.classifier = classifier;
        self
    }

    /// Whether to make the first retry at once, without a backoff, when the
    /// first attempt's connection was reset or closed before any response
    /// came (default `false`, as botocore).
    ///
    /// That is what a pooled keep-alive connection looks like when the
    /// server closed it just before the client reused it: the request never
    /// reached a server that would answer it, and a new connection will.
    /// botocore sleeps its legacy backoff all the same (up to 1 s for the
    /// first retry). Later retries, and every other failure (a refused
    /// connection, a timeout, an error status), keep the legacy backoff.
    pub fn reset_connection_at_once(mut self, at_once: bool) -> Self {
        self.settings.reset_connection_at_once = at_once;
        self
    }

    /// Whether the first retry after a reset connection is made at once.
    pub fn get_reset_connection_at_once(&self) -> bool {
        self.settings.reset_connection_at_once
    }

    /// Calls `callback` with a [`RetryEvent`](super::RetryEvent) as each
    /// attempt starts and as it ends (with the decision that follows). More
    /// than one callback may be added; they run in order, on the task that
    /// polls the call, so they should be quick.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    /// use tower_sagemaker::retry::{Decision, ModelNotReadyRetryLayer, RetryEvent};
    ///
    /// let retries = Arc::new(AtomicU32::new(0));
    /// let counted = retries.clone();
    /// let layer = ModelNotReadyRetryLayer::legacy().on_event(move |event| {
    ///     if let RetryEvent::Outcome(outcome) = event {
    ///         if let Decision::Retry { delay } = outcome.decision {
    ///             counted.fetch_add(1, Ordering::Relaxed);
    ///             eprintln!("attempt {} failed ({:?}): retrying in {delay:?}", outcome.attempt, outcome.reason);
    ///         }
    ///     }
    /// });
    /// # let _ = layer;
    /// ```
    pub fn on_event<F>(mut self, callback: F) -> Self
    where
        F: Fn(&super::RetryEvent<'_>) + Send + Sync + 'static,
    {
        self.settings.hooks.add(std::sync::Arc::new(callback));
        self
    }

    /// The number of retries after the first attempt.
    pub fn get_max_retries(&self) -> u32 {
        self.settings.max_retries
    }

    /// The per-attempt timeout, if any.
    pub fn get_attempt_timeout(&self) -> Option<Duration> {
        self.settings.attempt_timeout
    }

    /// The backoff.
    pub fn get_backoff(&self) -> LegacyBackoff {
        self.settings.backoff
    }

    /// The classifier.
    pub fn get_classifier(&self) -> &RetryClassifier {
        &self.settings.classifier
    }
}

impl Default for ModelNotReadyRetryLayer {
    fn default() -> Self {
        Self::legacy()
    }
}

impl<S> Layer<S> for ModelNotReadyRetryLayer {
    type Service = ModelNotReadyRetry<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ModelNotReadyRetry::from_settings(inner, self.settings.clone())
    }
}
