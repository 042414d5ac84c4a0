//! How a call tells its observers what happened: one outcome event per
//! attempt, and exactly one final one however the call ends.

use std::error::Error as StdError;

use http::StatusCode;
use tower::BoxError;

use super::Call;
use crate::deadline::Deadline;
use crate::retry::classify::Classified;
use crate::retry::event::{AttemptOutcome, Decision, RetryEvent};

/// How an attempt ended, as the events and logs see it: its status, or its
/// error. Neither for a call dropped between attempts.
#[derive(Clone, Copy)]
pub(super) struct Seen<'a> {
    pub(super) status: Option<StatusCode>,
    pub(super) error: Option<&'a (dyn StdError + 'static)>,
}

impl<'a> Seen<'a> {
    pub(super) fn error(error: &'a (dyn StdError + 'static)) -> Self {
        Self {
            status: None,
            error: Some(error),
        }
    }
}

impl Call {
    pub(super) fn end(&mut self, error: BoxError, decision: Decision) -> BoxError {
        self.report(Seen::error(&*error), Classified::default(), decision);
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
        let target_model = self.target_model.as_ref().and_then(|v| v.to_str().ok());
        let inference_component = self.component.as_ref().and_then(|v| v.to_str().ok());
        self.retries
            .hooks
            .emit(&RetryEvent::Outcome(AttemptOutcome {
                attempt: self.attempts,
                status: seen.status,
                error_code: classified.code,
                error: seen.error,
                reason: classified.reason,
                decision,
                remaining: self.deadline.map(|d| d.remaining()),
                target_model,
                inference_component,
                since_first_429: self.first_429.map(|t| t.elapsed()),
                since_first_no_capacity: self.first_no_capacity.map(|t| t.elapsed()),
            }));
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
                let seen = Seen {
                    status: None,
                    error: None,
                };
                self.report(seen, Classified::default(), Decision::Cancelled);
            }
        }
    }
}
