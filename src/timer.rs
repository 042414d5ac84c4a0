//! A timer armed only when it is first needed.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// A `Sleep` created on the first poll that needs it, boxed.
///
/// Most calls answer before a timeout could matter. Creating a `Sleep`
/// clones the runtime's timer handle, and keeping one inline would make every
/// response future 112 bytes larger (moved at each layer), so the success
/// path pays for neither; a call that does wait pays one small allocation.
#[derive(Debug, Default)]
pub(crate) struct Timer(Option<Pin<Box<Sleep>>>);

impl Timer {
    /// Polls a timer that fires at `deadline`, arming it if needed.
    pub(crate) fn poll_until(&mut self, deadline: Instant, cx: &mut Context<'_>) -> Poll<()> {
        let sleep = self
            .0
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.deadline() != deadline {
            sleep.as_mut().reset(deadline);
        }
        sleep.as_mut().poll(cx)
    }
}

/// An instant that stands for "never": 30 years after `from`, as tokio does
/// for its own "far future" (a budget too large for the clock ends there).
#[inline]
pub(crate) fn far_future(from: Instant) -> Instant {
    from.checked_add(Duration::from_secs(86_400 * 365 * 30))
        .unwrap_or(from)
}
