//! reqwest-retry's strategy and policy with botocore's legacy rules, and the
//! error of a call whose coalesced waits spent its retries.

use std::time::{Duration, SystemTime};

use reqwest_retry::{Retryable, RetryableStrategy};
use retry_policies::{RetryDecision, RetryPolicy};

use super::cold_starts::ColdStartMark;
#[cfg(doc)]
use super::ColdStartsMiddleware;
use crate::retry::{whole_millis, LegacyBackoff, LegacyRetries, RetryClassifier};

/// Classifies responses and errors as botocore's legacy mode does, for
/// `reqwest_retry::RetryTransientMiddleware`: what the [`RetryClassifier`]
/// retries is `Transient`, any other failure `Fatal`, a success nothing.
///
/// With [`ColdStartsMiddleware`], a response whose call has used up its
/// attempts, counting the failed probes of other calls it waited through,
/// is `Fatal` (the call ends with it, as with the tower layer); so is such a
/// call's error, which that middleware gives as [`NoRetriesLeft`].
///
/// A 400 `ValidationError` marked [`NoCapacity`](crate::retry::NoCapacity) by
/// `NoCapacityMiddleware` (feature `scale-from-zero`) is `Transient` with
/// [`RetryClassifier::scale_from_zero`] (and `Fatal` when
/// [`ColdStartsMiddleware`] gave up pacing it at the deadline); one whose
/// body broke while `NoCapacityMiddleware` read it is `Transient`
/// ([`ErrorBodyReadFailed`](crate::retry::ErrorBodyReadFailed)).
///
/// Errors: those of reqwest itself are classified by the classifier (a
/// connection reset, closed or refused anywhere in their sources is a
/// transport error), and reqwest's timeouts are retried as botocore retries
/// read timeouts. Errors of other middleware are `Fatal`.
///
/// ```
/// use reqwest_retry::{Retryable, RetryableStrategy};
/// use tower_sagemaker::reqwest::LegacyRetryableStrategy;
///
/// let answer = |status: u16| {
///     let res = http::Response::builder().status(status).body("").unwrap();
///     Ok(reqwest::Response::from(res))
/// };
/// let strategy = LegacyRetryableStrategy::legacy();
/// assert!(strategy.handle(&answer(429)) == Some(Retryable::Transient)); // ModelNotReadyException
/// assert!(strategy.handle(&answer(424)) == Some(Retryable::Fatal)); // ModelError
/// assert!(strategy.handle(&answer(200)).is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct LegacyRetryableStrategy {
    classifier: RetryClassifier,
}

impl LegacyRetryableStrategy {
    /// Classifies with the classifier of `retries`.
    pub fn new(retries: &LegacyRetries) -> Self {
        Self {
            classifier: retries.get_classifier().clone(),
        }
    }

    /// botocore's legacy conditions ([`RetryClassifier::legacy`]).
    pub fn legacy() -> Self {
        Self::default()
    }

    /// The classifier.
    pub fn get_classifier(&self) -> &RetryClassifier {
        &self.classifier
    }
}

impl RetryableStrategy for LegacyRetryableStrategy {
    fn handle(
        &self,
        res: &Result<::reqwest::Response, reqwest_middleware::Error>,
    ) -> Option<Retryable> {
        match res {
            Ok(res) => {
                let status = res.status();
                let give_up = res
                    .extensions()
                    .get::<ColdStartMark>()
                    .is_some_and(|mark| mark.give_up);
                match self
                    .classifier
                    .classify_parts(status, res.headers(), res.extensions())
                    .reason
                {
                    // The call waited through other calls' failed probes
                    // (they used up its attempts), or ColdStartsMiddleware
                    // gave up pacing a scale-out at the deadline.
                    Some(_) if give_up => Some(Retryable::Fatal),
                    Some(_) => Some(Retryable::Transient),
                    None if status.is_success() => None,
                    None => Some(Retryable::Fatal),
                }
            }
            Err(err) => match is_transient(&self.classifier, err) {
                true => Some(Retryable::Transient),
                false => Some(Retryable::Fatal),
            },
        }
    }
}

/// Whether `classifier` retries an error of a reqwest-middleware call: one
/// of reqwest itself that it classifies as retried, or a reqwest timeout
/// (botocore retries read timeouts). Other middleware's errors are final.
pub(crate) fn is_transient(classifier: &RetryClassifier, err: &reqwest_middleware::Error) -> bool {
    match err {
        reqwest_middleware::Error::Reqwest(err) => {
            err.is_timeout() || classifier.classify_error(err).is_some()
        }
        reqwest_middleware::Error::Middleware(_) => false,
    }
}

/// The error of a call's last attempt when the call has no retries left:
/// its attempts and the failed probes of other calls it waited through
/// ([`ColdStartsMiddleware`]) spent botocore's budget. Inside
/// `reqwest_middleware::Error::Middleware`, where
/// [`LegacyRetryableStrategy`] sees it as final; the attempt's own error is
/// its [`source`](std::error::Error::source) and
/// [`into_inner`](Self::into_inner). `RetryTransientMiddleware` hands it to
/// the caller inside its own error, `reqwest_retry::RetryError::Error`:
///
/// ```
/// use tower_sagemaker::reqwest::NoRetriesLeft;
///
/// fn no_retries_left(err: &reqwest_middleware::Error) -> Option<&NoRetriesLeft> {
///     let reqwest_middleware::Error::Middleware(err) = err else { return None };
///     match err.downcast_ref::<reqwest_retry::RetryError>()? {
///         reqwest_retry::RetryError::Error(reqwest_middleware::Error::Middleware(inner)) => {
///             inner.downcast_ref::<NoRetriesLeft>()
///         }
///         _ => None,
///     }
/// }
/// ```
#[derive(Debug)]
pub struct NoRetriesLeft(reqwest_middleware::Error);

impl NoRetriesLeft {
    pub(super) fn new(error: reqwest_middleware::Error) -> Self {
        Self(error)
    }

    /// The last attempt's error.
    pub fn get_ref(&self) -> &reqwest_middleware::Error {
        &self.0
    }

    /// The last attempt's error.
    pub fn into_inner(self) -> reqwest_middleware::Error {
        self.0
    }
}

impl std::fmt::Display for NoRetriesLeft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "no retries left: the call's attempts and the failed probes it waited through used them up",
        )
    }
}

impl std::error::Error for NoRetriesLeft {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// botocore's legacy backoff for `reqwest_retry`: before retry `k`, a
/// uniform random delay in `[0, base * 2^(k-1))` ([`LegacyBackoff`]), at most
/// `max_retries` retries (both from a [`LegacyRetries`]), and, with a total
/// budget, no retry whose delay would end after the budget (counted from the
/// request's start).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use retry_policies::{RetryDecision, RetryPolicy};
/// use tower_sagemaker::reqwest::LegacyBackoffPolicy;
/// use tower_sagemaker::retry::LegacyRetries;
///
/// let policy = LegacyBackoffPolicy::new(&LegacyRetries::new().max_retries(2));
/// let started = SystemTime::now();
/// // The second retry waits less than 2 s; there is no third.
/// match policy.should_retry(started, 1) {
///     RetryDecision::Retry { execute_after } => {
///         assert!(execute_after < SystemTime::now() + Duration::from_secs(2))
///     }
///     RetryDecision::DoNotRetry => panic!("one retry is left"),
/// }
/// assert!(matches!(policy.should_retry(started, 2), RetryDecision::DoNotRetry));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct LegacyBackoffPolicy {
    max_retries: u32,
    backoff: LegacyBackoff,
    budget: Option<Duration>,
}

impl Default for LegacyBackoffPolicy {
    fn default() -> Self {
        Self::legacy()
    }
}

impl LegacyBackoffPolicy {
    /// The number of retries and the backoff of `retries`, no total budget.
    pub fn new(retries: &LegacyRetries) -> Self {
        Self {
            max_retries: retries.get_max_retries(),
            backoff: retries.get_backoff(),
            budget: None,
        }
    }

    /// 4 retries (5 attempts), base 1 s, no cap, no total budget.
    pub fn legacy() -> Self {
        Self::new(&LegacyRetries::new())
    }

    /// No retry whose delay would end more than `budget` after the request
    /// started (360 s for a multi-model endpoint's cold start).
    pub fn total_budget(mut self, budget: Duration) -> Self {
        self.budget = Some(budget);
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

    /// The total budget, if any.
    pub fn get_total_budget(&self) -> Option<Duration> {
        self.budget
    }
}

impl RetryPolicy for LegacyBackoffPolicy {
    fn should_retry(&self, request_start_time: SystemTime, n_past_retries: u32) -> RetryDecision {
        if n_past_retries >= self.max_retries {
            return RetryDecision::DoNotRetry;
        }
        let delay = whole_millis(self.backoff.delay(n_past_retries.saturating_add(1)));
        let Some(execute_after) = SystemTime::now().checked_add(delay) else {
            return RetryDecision::DoNotRetry;
        };
        if let Some(budget) = self.budget {
            let end = request_start_time.checked_add(budget);
            if end.is_none_or(|end| execute_after >= end) {
                return RetryDecision::DoNotRetry;
            }
        }
        RetryDecision::Retry { execute_after }
    }
}
