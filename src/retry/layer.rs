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
    shared_retry_settings!();

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
                cold_starts: None,
            },
        }
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

    /// The per-attempt timeout, if any.
    pub fn get_attempt_timeout(&self) -> Option<Duration> {
        self.settings.attempt_timeout
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
