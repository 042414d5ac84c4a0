//! The one backoff formula: botocore's legacy full jitter.

use std::time::Duration;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_without_cap() {
        let b = LegacyBackoff::new();
        assert_eq!(b.ceiling(0), Duration::ZERO);
        assert_eq!(b.ceiling(1), Duration::from_secs(1));
        assert_eq!(b.ceiling(2), Duration::from_secs(2));
        assert_eq!(b.ceiling(5), Duration::from_secs(16));
        assert_eq!(b.ceiling(20), Duration::from_secs(1 << 19));
        assert_eq!(b.ceiling(200), Duration::MAX);
        assert_eq!(b.ceiling(u32::MAX), Duration::MAX);
    }

    #[test]
    fn base_and_cap() {
        let b = LegacyBackoff::new()
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(350));
        assert_eq!(b.ceiling(1), Duration::from_millis(100));
        assert_eq!(b.ceiling(2), Duration::from_millis(200));
        assert_eq!(b.ceiling(3), Duration::from_millis(350));
        assert_eq!(b.ceiling(64), Duration::from_millis(350));
    }

    #[test]
    fn delay_at_is_scaled_and_clamped() {
        let b = LegacyBackoff::new();
        assert_eq!(b.delay_at(2, 0.0), Duration::ZERO);
        assert_eq!(b.delay_at(2, 0.25), Duration::from_millis(500));
        assert_eq!(
            b.delay_at(2, 7.0),
            Duration::from_secs(2) - Duration::from_nanos(1)
        );
        assert_eq!(b.delay_at(2, -1.0), Duration::ZERO);
        assert_eq!(b.delay_at(2, f64::NAN), Duration::ZERO);
        // Saturated ceilings never panic.
        let _ = b.delay_at(u32::MAX, 0.999);
    }

    #[test]
    fn random_delays_stay_below_the_ceiling_and_spread() {
        let b = LegacyBackoff::new();
        for k in 1..=6 {
            let ceiling = b.ceiling(k);
            let samples: Vec<_> = (0..2000).map(|_| b.delay(k)).collect();
            assert!(samples.iter().all(|d| *d < ceiling), "retry {k}");
            let lower = samples.iter().filter(|d| **d < ceiling / 2).count();
            // A fair uniform draw puts about half below the midpoint.
            assert!(
                (800..1200).contains(&lower),
                "retry {k}: {lower} of 2000 below mid"
            );
            let max = samples.iter().max().unwrap();
            let min = samples.iter().min().unwrap();
            assert!(
                *max > ceiling * 9 / 10 && *min < ceiling / 10,
                "retry {k}: not spread"
            );
        }
    }
}
