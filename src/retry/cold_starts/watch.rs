//! A call's [`Watch`] while it waits for another call's probe.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;

use super::{take_turn, ColdStarts, Key, Turn};

/// A wake-up for the next change of a key, registered at once, before the
/// caller looks at the key, so that no change between the two is lost.
pub(super) fn notified(notify: &Arc<Notify>) -> Pin<Box<OwnedNotified>> {
    let mut notified = Box::pin(notify.clone().notified_owned());
    notified.as_mut().enable();
    notified
}

/// A call's wait for its turn on a loading model; see [`Ticket::watch`](super::Ticket::watch).
pub(crate) struct Watch {
    pub(super) cold: ColdStarts,
    pub(super) key: Key,
    pub(super) id: u64,
    pub(super) counts_no_capacity: bool,
    pub(super) until_failures: u64,
    pub(super) notified: Pin<Box<OwnedNotified>>,
    pub(super) notify: Arc<Notify>,
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch")
            .field("key", &self.key)
            .field("until_failures", &self.until_failures)
            .finish_non_exhaustive()
    }
}

impl Watch {
    /// Ready when the call should send its next attempt.
    pub(crate) fn poll_turn(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let done = match self.cold.0.lock().map.get_mut(&self.key) {
                Some(entry) => {
                    take_turn(entry, self.id) == Turn::Send
                        || entry.failures(self.counts_no_capacity) >= self.until_failures
                }
                None => true,
            };
            if done {
                return Poll::Ready(());
            }
            ready!(self.notified.as_mut().poll(cx));
            self.notified = notified(&self.notify);
        }
    }
}
