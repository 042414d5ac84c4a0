//! [`Timer`]: a timer armed only when it is first needed.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::time::{Instant, Sleep};

/// A `Sleep` created on the first poll that needs it, boxed.
///
/// Most calls answer before a timeout could matter. Creating a `Sleep`
/// clones the runtime's timer handle, and keeping one inline would make every
/// response future 112 bytes larger (moved at each layer), so the success
/// path pays for neither; a call that does wait pays one small allocation.
///
/// A response future hands its timer on to its response body
/// ([`take`](Self::take)): a call whose head had to wait then arms one
/// timer, not one for the head and another for the body.
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

    /// Polls a timer that is ready once `until` has passed, arming it if
    /// needed: a lazy timer for an end that moves later with every wait.
    ///
    /// A `Sleep` armed at an earlier instant is left as it is (resetting one
    /// takes the lock of tokio's timer driver); only when it fires, early,
    /// is it re-armed at `until`. Waits that each start with a later
    /// `until` thus reset the `Sleep` at most once per period it runs, not
    /// once per wait. Ready exactly when a `Sleep` at `until` would be.
    #[cfg(feature = "read-timeout")]
    pub(crate) fn poll_by(&mut self, until: Instant, cx: &mut Context<'_>) -> Poll<()> {
        let sleep = self
            .0
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
        if until < sleep.deadline() {
            // Not for ends taken from tokio's clock, which only moves
            // forward; a `Sleep` must never fire late.
            sleep.as_mut().reset(until);
        }
        loop {
            std::task::ready!(sleep.as_mut().poll(cx));
            if sleep.deadline() >= until {
                return Poll::Ready(());
            }
            // Fired early: re-armed once, then Pending until `until` (or
            // Ready at once, when `until` has passed too).
            sleep.as_mut().reset(until);
        }
    }

    /// Takes the timer, armed or not, leaving an unarmed one.
    #[cfg(any(feature = "deadline", feature = "read-timeout"))]
    pub(crate) fn take(&mut self) -> Self {
        Self(self.0.take())
    }

    /// The instant the timer is armed at, if it is.
    #[cfg(all(test, feature = "read-timeout"))]
    pub(crate) fn armed_at(&self) -> Option<Instant> {
        self.0.as_ref().map(|sleep| sleep.deadline())
    }
}
