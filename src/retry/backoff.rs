//! The one backoff formula: botocore's legacy full jitter.

use std::time::Duration;

/// botocore's legacy backoff: the delay before retry `k` (1 for the first retry)
/// is uniform in `[0, base * 2^(k-1))`, with no cap unless one is set. With a
/// floor ([`min_delay`](Self::min_delay)) it is uniform in `[min, ceiling)`:
/// the pacing of [`LegacyBackoff::scale_out`].
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
    min: Duration,
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
            min: Duration::ZERO,
        }
    }

    /// The pacing of retries of an inference component scaling from zero
    /// ([`RetryReason::NoCapacity`](super::RetryReason::NoCapacity)): the first retry after 10 to 20 s, each
    /// later one after 10 to 30 s (base 20 s, cap 30 s, floor 10 s). A
    /// scale-out takes minutes, so botocore's 1, 2, 4, 8 s would spend a
    /// call's attempts in its first quarter minute; spread this way one
    /// caller (the prober, with coalescing) keeps at least one failed call
    /// reaching the endpoint every 30 s, which is what the alarm that
    /// starts the scale-out counts, and learns the copy is ready at most
    /// 30 s after it is.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_sagemaker::retry::LegacyBackoff;
    ///
    /// let pacing = LegacyBackoff::scale_out();
    /// assert_eq!(pacing.delay_at(1, 0.0), Duration::from_secs(10));
    /// assert!(pacing.delay(1) < Duration::from_secs(20));
    /// assert_eq!(pacing.delay_at(7, 0.5), Duration::from_secs(20));
    /// ```
    pub const fn scale_out() -> Self {
        Self {
            base: Duration::from_secs(20),
            max: Some(Duration::from_secs(30)),
            min: Duration::from_secs(10),
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

    /// Sets a floor under every delay: the delay before a retry is uniform
    /// in `[min, ceiling)` (`min` when the ceiling is not above it).
    /// botocore's legacy mode has none.
    pub const fn min_delay(mut self, min: Duration) -> Self {
        self.min = min;
        self
    }

    /// The floor under every delay (zero unless set).
    pub const fn get_min_delay(&self) -> Duration {
        self.min
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
    /// `min + unit * (ceiling(retry) - min)`, always below the ceiling (or
    /// zero when the ceiling is zero; `min` when the ceiling is not above
    /// it). Out-of-range `unit`s are clamped.
    pub fn delay_at(&self, retry: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(retry);
        if ceiling.is_zero() {
            return Duration::ZERO;
        }
        if ceiling <= self.min {
            return self.min;
        }
        let unit = if unit.is_nan() {
            0.0
        } else {
            unit.clamp(0.0, 1.0)
        };
        let span = ceiling - self.min;
        Duration::try_from_secs_f64(span.as_secs_f64() * unit)
            .ok()
            .filter(|d| *d < span)
            // The interval is half-open: rounding up to the ceiling stays just below it.
            .unwrap_or_else(|| span.saturating_sub(Duration::from_nanos(1)))
            + self.min
    }

    /// A random delay before retry `retry`, drawn uniformly from
    /// `[min, ceiling(retry))` (`min` is zero unless [`min_delay`](Self::min_delay) set it).
    pub fn delay(&self, retry: u32) -> Duration {
        self.delay_at(retry, fastrand::f64())
    }
}

/// `delay` cut to whole milliseconds, as every driver sleeps a backoff:
/// tokio's timers tick in whole milliseconds and round a deadline up, so a
/// delay just below a backoff's ceiling would otherwise sleep the ceiling.
pub(crate) fn whole_millis(delay: Duration) -> Duration {
    Duration::from_millis(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX))
}
