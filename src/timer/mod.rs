//! Timers: [`Timer`], armed only when it is first needed, and instants
//! that stand for "never".

use std::time::Duration;

use tokio::time::Instant;

#[cfg(any(feature = "deadline", feature = "read-timeout", feature = "retry"))]
mod lazy;

#[cfg(any(feature = "deadline", feature = "read-timeout", feature = "retry"))]
pub(crate) use self::lazy::Timer;

/// `duration` after `from`, or [`far_future`] when that is beyond the
/// clock's range (a configured time of `Duration::MAX`, say).
#[cfg(feature = "emulator")]
pub(crate) fn after(from: Instant, duration: Duration) -> Instant {
    from.checked_add(duration)
        .unwrap_or_else(|| far_future(from))
}

/// An instant that stands for "never": 30 years after `from`, as tokio does
/// for its own "far future" (a budget too large for the clock ends there).
#[inline]
pub(crate) fn far_future(from: Instant) -> Instant {
    from.checked_add(Duration::from_secs(86_400 * 365 * 30))
        .unwrap_or(from)
}
