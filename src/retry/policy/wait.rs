//! [`RetryWait`]: what the policy waits before a retry.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::time::Sleep;

use crate::deadline::Deadline;
use crate::retry::cold_starts::Watch;

pin_project! {
    /// What [`LegacyRetryPolicy`](super::LegacyRetryPolicy) waits before a retry: the legacy backoff,
    /// or, with cold-start coalescing, another call's probe of the loading
    /// model (see [`ColdStarts`](crate::retry::ColdStarts)).
    ///
    /// It never ends past the call's deadline when a `DeadlineLayer` above
    /// enforces it: polled late (the task ran after the deadline), it stays
    /// pending, so that `DeadlineLayer` fails the call rather than `Retry`
    /// sending an attempt after the deadline.
    #[derive(Debug)]
    pub struct RetryWait {
        #[pin]
        pub(super) kind: WaitKind,
        pub(super) deadline: Option<Deadline>,
        pub(super) resent: Arc<AtomicBool>,
    }
}

pin_project! {
    #[project = WaitKindProj]
    #[derive(Debug)]
    pub(super) enum WaitKind {
        Backoff { #[pin] sleep: Sleep },
        // No deadline of its own: `DeadlineLayer` above ends the call at its
        // deadline, and a retry that went out then would be an attempt after it.
        ForModel { watch: Box<Watch> },
    }
}

impl Future for RetryWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        std::task::ready!(match this.kind.project() {
            WaitKindProj::Backoff { sleep } => sleep.poll(cx),
            WaitKindProj::ForModel { watch } => watch.poll_turn(cx),
        });
        // `DeadlineLayer` above polls its own timer, already due, once
        // this is pending.
        if this.deadline.is_some_and(|d| d.is_expired()) {
            return Poll::Pending;
        }
        this.resent.store(true, Relaxed);
        Poll::Ready(())
    }
}
