//! The one backoff formula, botocore's legacy full jitter, and the one
//! decision that follows a retryable outcome.

use std::time::Duration;

use http::StatusCode;
use tokio::time::Instant;

use super::classify::Classified;
use super::{Decision, LegacyRetries, RetryReason};
use crate::deadline::Deadline;
use crate::timer::far_future;

/// botocore's legacy backoff: the delay before retry `k` (1 for the first retry)
/// is uniform in `[0, base * 2^(k-1))`, with no cap unless one is set.
///
/// With the defaults (base 1 s, no cap) the sleeps are `rand * 1 s`,
/// `rand * 2 s`, `rand * 4 s`, `rand * 8 s`, ... as boto3 sleeps. Both the
/// tower retry layer and the AWS SDK classifier use this type.
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::retry::LegacyBackoff;
///
/// let backoff = LegacyBackoff::new();
/// assert_eq!(backoff.ceiling(3), Duration::from_secs(4));
/// assert!(backoff.delay(3) < Duration::from_secs(4));
/// assert_eq!(backoff.delay_at(3, 0.5), Duration::from_secs(2));
///
/// let capped = LegacyBackoff::new().max_delay(Duration::from_secs(5));
/// assert_eq!(capped.ceiling(10), Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegacyBackoff {
    base: Duration,
    max: Option<Duration>,
}

impl Default for LegacyBackoff {
    fn default() -> Self {
        Self::new()
    }
}

impl LegacyBackoff {
    /// botocore's legacy backoff: base 1 s, no cap.
    pub const fn new() -> Self {
        Self {
            base: Duration::from_secs(1),
            max: None,
        }
    }

    /// Sets the base delay (the ceiling of the first retry's delay).
    pub const fn base_delay(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// Caps every ceiling at `max`. botocore's legacy mode has no cap.
    pub const fn max_delay(mut self, max: Duration) -> Self {
        self.max = Some(max);
        self
    }

    /// The base delay: the ceiling of the first retry's delay.
    pub const fn get_base_delay(&self) -> Duration {
        self.base
    }

    /// The cap on every ceiling, if one is set.
    pub const fn get_max_delay(&self) -> Option<Duration> {
        self.max
    }

    /// The exclusive upper bound of the delay before retry `retry` (1-based):
    /// `base * 2^(retry-1)`, capped, saturating at [`Duration::MAX`].
    /// Retry 0 (no retry) has ceiling zero.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let Some(exp) = retry.checked_sub(1) else {
            return Duration::ZERO;
        };
        let uncapped = 2u32
            .checked_pow(exp)
            .and_then(|factor| self.base.checked_mul(factor))
            .unwrap_or(Duration::MAX);
        match self.max {
            Some(max) => uncapped.min(max),
            None => uncapped,
        }
    }

    /// The delay before retry `retry` for a uniform random `unit` in `[0, 1)`:
    /// `unit * ceiling(retry)`, always below the ceiling (or zero when the ceiling is
    /// zero). Out-of-range `unit`s are clamped.
    pub fn delay_at(&self, retry: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(retry);
        let unit = if unit.is_nan() {
            0.0
        } else {
            unit.clamp(0.0, 1.0)
        };
        Duration::try_from_secs_f64(ceiling.as_secs_f64() * unit)
            .ok()
            .filter(|d| *d < ceiling)
            // The interval is half-open: rounding up to the ceiling stays just below it.
            .unwrap_or_else(|| ceiling.saturating_sub(Duration::from_nanos(1)))
    }

    /// A random delay before retry `retry`, drawn uniformly from `[0, ceiling(retry))`.
    pub fn delay(&self, retry: u32) -> Duration {
        self.delay_at(retry, fastrand::f64())
    }
}

/// What follows an outcome retryable for `classified.reason` (or not) after
/// `counted` attempts, and when the backoff ends if it is a retry: no retry
/// past `max_retries`, and none whose backoff would end at or after the
/// deadline. Logs the decision.
pub(super) fn decide(
    retries: &LegacyRetries,
    deadline: Option<Deadline>,
    counted: u32,
    status: Option<StatusCode>,
    classified: Classified<'_>,
) -> (Decision, Option<Instant>) {
    let Some(reason) = classified.reason else {
        return (Decision::Return, None);
    };
    if counted > retries.max_retries {
        return (Decision::RetriesExhausted, None);
    }
    let at_once = retries.reset_connection_at_once
        && counted == 1
        && reason == RetryReason::Transport
        && classified.reset;
    // tokio's timers tick in whole milliseconds and round up: flooring
    // keeps the sleep below the backoff's ceiling.
    let delay = match at_once {
        true => Duration::ZERO,
        false => {
            let delay = retries.backoff.delay(counted);
            Duration::from_millis(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX))
        }
    };
    let now = Instant::now();
    let wake = now.checked_add(delay);
    let outcome = OutcomeLog(status, reason);
    let delay_ms = delay.as_millis() as u64;
    let remaining_ms = deadline.map(|d| d.remaining().as_millis() as u64);
    if let Some(d) = deadline {
        if wake.is_none_or(|w| w >= d.instant()) {
            tracing::info!(
                attempt = counted,
                %outcome,
                delay_ms,
                remaining_ms,
                "not retrying SageMaker call: backoff would end after the deadline"
            );
            return (Decision::DeadlineWouldPass, None);
        }
    }
    tracing::info!(attempt = counted, %outcome, delay_ms, remaining_ms, "retrying SageMaker call");
    let wake = wake.unwrap_or_else(|| far_future(now));
    (Decision::Retry { delay }, Some(wake))
}

/// An attempt's outcome in a log line: its status, or its error kind; never
/// a body or a header.
struct OutcomeLog(Option<StatusCode>, RetryReason);

impl std::fmt::Display for OutcomeLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(status) => write!(f, "status {} ({})", status.as_u16(), self.1.as_str()),
            None => write!(f, "error ({})", self.1.as_str()),
        }
    }
}
