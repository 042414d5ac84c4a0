//! [`Call`]: one call's retry controller. It owns what the call knows and
//! answers each step with what to do next; it polls nothing and reads no
//! timer, so every driver (the layer's future, the policy) shares its rules.

use std::time::Duration;

use http::{HeaderMap, HeaderName};
use tokio::time::Instant;
use tower::BoxError;

use super::cold_starts::{Ticket, Turn, Watch};
use super::event::{Decision, RetryEvent};
use super::request::{invocation_id, sdk_request, Head};
use super::{AttemptTimedOut, LegacyRetries};
use crate::deadline::Deadline;
use crate::sagemaker::{
    INFERENCE_COMPONENT_HEADER, INVOCATION_ID_HEADER, SDK_REQUEST_HEADER, TARGET_MODEL_HEADER,
};
use crate::timer::far_future;

mod after;
pub(crate) mod decide;
pub(crate) mod observed;
mod report;

use self::observed::Observed;

/// What a call does next.
pub(crate) enum Next {
    /// Send the next attempt now.
    Send,
    /// Sleep the backoff until then, then send.
    SleepUntil(Instant),
    /// Wait for another call's probe of the loading model, then tell
    /// [`Call::waited`] and send.
    WaitForModel(Box<Watch>),
    /// The call is over: the outcome goes to the caller.
    Finish,
}

/// One call's retry state. Every way the call ends goes through it, so it
/// reports exactly one final outcome (dropped unfinished, it reports one).
pub(crate) struct Call {
    retries: LegacyRetries,
    attempt_timeout: Option<Duration>,
    deadline: Option<Deadline>,
    // Attempts sent so far.
    attempts: u32,
    // Of those, the no-capacity answers paced by the scale-out backoff.
    paced: u32,
    // With observers: what the events tell besides each attempt.
    observed: Observed,
    // With cold-start coalescing: the call's registration for its model.
    ticket: Option<Box<Ticket>>,
    finished: bool,
}

impl Call {
    pub(crate) fn new(
        retries: LegacyRetries,
        attempt_timeout: Option<Duration>,
        deadline: Option<Deadline>,
        head: &impl Head,
    ) -> Self {
        let mut observed = Observed::default();
        if !retries.hooks.is_empty() {
            let header = |name: &HeaderName| head.header(name).cloned();
            observed.request(
                header(&TARGET_MODEL_HEADER),
                header(&INFERENCE_COMPONENT_HEADER),
            );
        }
        Self {
            retries,
            attempt_timeout,
            deadline,
            attempts: 0,
            paced: 0,
            observed,
            ticket: None,
            finished: false,
        }
    }

    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    pub(crate) fn deadline(&self) -> Option<Deadline> {
        self.deadline
    }

    pub(crate) fn coalesces(&self) -> bool {
        self.retries.cold_starts.is_some()
    }

    /// With coalescing, before the first attempt: joins the key of the model
    /// or component; the call waits when another call probes it (and it has
    /// an attempt to spare for waiting).
    pub(crate) fn join(&mut self, head: &impl Head) -> Next {
        let Some(cold) = &self.retries.cold_starts else {
            return Next::Send;
        };
        // Without a deadline, no-capacity answers count against `max_retries`.
        let counts_no_capacity = self.deadline.is_none();
        let Some((ticket, turn)) =
            cold.join(head.uri(), |name| head.header(name), counts_no_capacity)
        else {
            return Next::Send;
        };
        let max = self.retries.max_retries;
        let ticket = self.ticket.insert(ticket);
        match turn == Turn::Wait && max > 0 {
            true => Next::WaitForModel(Box::new(ticket.watch(max))),
            false => Next::Send,
        }
    }

    /// An attempt is about to go out; the deadline error when it has passed.
    pub(crate) fn send(&mut self) -> Result<(), BoxError> {
        if let Some(d) = self.deadline.filter(Deadline::is_expired) {
            return Err(self.end(d.exceeded().into(), Decision::DeadlineExceeded));
        }
        self.attempts += 1;
        if !self.retries.hooks.is_empty() {
            let remaining = self.deadline.map(|d| d.remaining());
            let attempt = self.attempts;
            self.retries
                .hooks
                .emit(&RetryEvent::Attempt { attempt, remaining });
        }
        Ok(())
    }

    /// With attempt headers on, before the call's first attempt: gives the
    /// request an `amz-sdk-invocation-id` unless it has one.
    pub(crate) fn stamp_call(&self, headers: &mut HeaderMap) {
        if !self.retries.attempt_headers {
            return;
        }
        // One lookup: `entry` finds the slot that `insert` fills.
        if let http::header::Entry::Vacant(slot) = headers.entry(INVOCATION_ID_HEADER) {
            slot.insert(invocation_id());
        }
    }

    /// With attempt headers on, on the attempt just [`send`](Self::send)
    /// allowed: `amz-sdk-request: attempt=N; max=M`. Each paced no-capacity
    /// answer, outside botocore's budget, adds one to `M` (as the AWS SDK
    /// integration raises `max_attempts`): no attempt says it is past `max`.
    pub(crate) fn stamp_attempt(&self, headers: &mut HeaderMap) {
        if self.retries.attempt_headers {
            let max = self
                .retries
                .max_retries
                .saturating_add(1)
                .saturating_add(self.paced);
            headers.insert(SDK_REQUEST_HEADER, sdk_request(self.attempts, max));
        }
    }

    /// An attempt went out that the driver does not announce: a policy
    /// does not see attempts start.
    #[cfg(feature = "retry-policy")]
    pub(crate) fn sent(&mut self) {
        self.attempts += 1;
    }

    /// When the attempt sent last times out: after `min(attempt_timeout,
    /// remaining)`, or never. Asked for when the attempt is first found
    /// pending: most attempts answer at once and need no clock reading.
    pub(crate) fn attempt_end(&self) -> Instant {
        let now = Instant::now();
        let by_timeout = self.attempt_timeout.and_then(|t| now.checked_add(t));
        match (by_timeout, self.deadline.map(|d| d.instant())) {
            (Some(a), Some(d)) => a.min(d),
            (a, d) => a.or(d).unwrap_or_else(|| far_future(now)),
        }
    }

    /// The error of an attempt whose [`attempt_end`](Self::attempt_end) came.
    pub(crate) fn attempt_expired(&self) -> BoxError {
        match self.deadline.filter(Deadline::is_expired) {
            Some(d) => d.exceeded().into(),
            None => {
                AttemptTimedOut::new(self.attempt_timeout.unwrap_or_default(), self.attempts).into()
            }
        }
    }
    /// After a wait for another call's probe: each probe that failed
    /// meanwhile counts as one of the call's attempts.
    pub(crate) fn waited(&mut self) {
        if let Some(ticket) = self.ticket.as_mut() {
            ticket.catch_up();
        }
    }

    /// The deadline passed between attempts (while sleeping, waiting for a
    /// probe or for the inner service): the call ends with `DeadlineExceeded`.
    pub(crate) fn deadline_passed(&mut self) -> BoxError {
        let deadline = self.deadline.expect("a deadline passed");
        self.end(deadline.exceeded().into(), Decision::DeadlineExceeded)
    }

    /// The inner service failed to become ready: the call ends with its error.
    pub(crate) fn not_ready(&mut self, error: BoxError) -> BoxError {
        self.end(error, Decision::Return)
    }
}
