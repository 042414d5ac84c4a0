//! How a call tells its observers what happened: one outcome event per
//! attempt, and exactly one final one however the call ends.

use tower::BoxError;

use super::observed::Seen;
use super::Call;
use crate::deadline::Deadline;
use crate::retry::classify::Classified;
use crate::retry::event::{Decision, RetryEvent};

impl Call {
    pub(super) fn end(&mut self, error: BoxError, decision: Decision) -> BoxError {
        self.report(
            Seen::between_attempts(Some(&*error)),
            Classified::default(),
            decision,
        );
        self.finish();
        error
    }

    pub(super) fn finish(&mut self) {
        self.finished = true;
        // A prober hands its role on now, also when the caller keeps the
        // finished future.
        self.ticket = None;
    }

    /// Tells the observers how an attempt (or the call) ended and what follows.
    pub(super) fn report(&self, seen: Seen<'_>, classified: Classified<'_>, decision: Decision) {
        if self.retries.hooks.is_empty() {
            return;
        }
        let remaining = self.deadline.map(|d| d.remaining());
        let outcome = (self.observed).outcome(self.attempts, seen, classified, decision, remaining);
        self.retries.hooks.emit(&RetryEvent::Outcome(outcome));
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if self.finished || self.retries.hooks.is_empty() {
            return;
        }
        match self.deadline.filter(Deadline::is_expired) {
            // Cut short from above (`DeadlineLayer` over a policy's retries).
            Some(d) => {
                self.end(d.exceeded().into(), Decision::DeadlineExceeded);
            }
            None => {
                let seen = Seen::between_attempts(None);
                self.report(seen, Classified::default(), Decision::Cancelled);
            }
        }
    }
}
