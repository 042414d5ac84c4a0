//! [`Call::after_attempt`]: the one decision after each attempt.

use tower::BoxError;

use super::decide::{decide, Counted};
use super::observed::Seen;
use super::{Call, Next};
use crate::deadline::Deadline;
use crate::retry::classify::Classified;
use crate::retry::event::Decision;
use crate::retry::request::Head;
use crate::retry::RetryReason;

impl Call {
    /// After an attempt: classifies its outcome once and decides. On
    /// [`Next::Finish`] the outcome is the caller's (an error at or after the
    /// deadline has become `DeadlineExceeded`).
    pub(crate) fn after_attempt<R>(
        &mut self,
        head: &impl Head,
        outcome: &mut Result<http::Response<R>, BoxError>,
    ) -> Next {
        if let Err(err) = outcome {
            if let Some(d) = self.deadline.filter(Deadline::is_expired) {
                let decision = Decision::DeadlineExceeded;
                self.report(Seen::error(&**err), Classified::default(), decision);
                self.finish();
                *outcome = Err(d.exceeded().into());
                return Next::Finish;
            }
        }
        let seen = match &*outcome {
            Ok(res) => Seen::answer(res.status()),
            Err(err) => Seen::error(&**err),
        };
        let classified = self.retries.classifier.classify(outcome);
        let not_ready = classified.reason == Some(RetryReason::ModelNotReady);
        let no_capacity = classified.reason == Some(RetryReason::NoCapacity);
        // Paced retries wait out a scale-out under the deadline, outside
        // botocore's budget.
        let paced = no_capacity && self.deadline.is_some();
        self.paced += u32::from(paced);
        if let (Some(cold), None, true) = (
            &self.retries.cold_starts,
            &self.ticket,
            not_ready || no_capacity,
        ) {
            // The policy is not asked before first attempts: it joins at the
            // first sign of a cold start.
            self.ticket = cold
                .join(
                    head.uri(),
                    |name| head.header(name),
                    self.deadline.is_none(),
                )
                .map(|(ticket, _)| ticket);
        }
        let counted = Counted::of(self.attempts, self.paced, self.ticket.as_deref());
        let (mut decision, wake) = decide(
            &self.retries,
            self.deadline,
            counted,
            seen.status,
            classified,
        );
        let retrying = matches!(decision, Decision::Retry { .. });
        let max = self.retries.max_retries;
        let watch = self.ticket.as_mut().and_then(|ticket| {
            ticket.after_attempt(classified.reason, paced, counted.legacy, max, retrying)
        });
        if watch.is_some() {
            decision = Decision::WaitForModel;
        }
        if !self.retries.hooks.is_empty() {
            self.observed.answered(seen.status, classified.reason);
        }
        self.report(seen, classified, decision);
        match (watch, wake) {
            (Some(watch), _) => {
                tracing::info!(
                    attempt = self.attempts,
                    what = if no_capacity {
                        "inference component scaling out"
                    } else {
                        "model loading"
                    },
                    "SageMaker endpoint not ready: waiting for another call's probe"
                );
                Next::WaitForModel(watch)
            }
            (None, Some(wake)) => Next::SleepUntil(wake),
            (None, None) => {
                self.finish();
                Next::Finish
            }
        }
    }
}
