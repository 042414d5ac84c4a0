//! Each SDK operation's part in the crate's retry engine: its
//! [`RetryEvent`]s and its cold-start [`Ticket`], kept for the whole
//! operation by [`LegacyRetriesInterceptor`].

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aws_smithy_runtime_api::http::Headers;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use http::header::HOST;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use tokio::time::Instant;

use crate::error_code::ErrorCode;
use crate::retry::classify::Classified;
use crate::retry::{
    Counted, Decision, LegacyRetries, Observed, RetryEvent, RetryReason, Seen, Ticket, Turn, Watch,
};
use crate::sagemaker::{INFERENCE_COMPONENT_HEADER, TARGET_MODEL_HEADER};

mod interceptor;

pub use self::interceptor::LegacyRetriesInterceptor;

/// What coalescing learnt of an attempt, on its response for the
/// classifier: the attempts the call has made under botocore's budget
/// counting the failed probes it waited through (paced no-capacity answers
/// are not counted), and whether it waits for another call's probe before
/// its next attempt (in [`ColdStartsHttpClient`](super::ColdStartsHttpClient)).
#[derive(Debug, Clone, Copy)]
pub(super) struct ColdStartMark {
    pub(super) counted: u32,
    pub(super) wait: bool,
}

/// One SDK operation's state, shared by the interceptor's hooks (through the
/// `ConfigBag`) and the HTTP client (through each request's extensions).
#[derive(Clone)]
pub(super) struct SdkCall {
    // The `LegacyRetriesInterceptor` that drives it: with a per-call
    // `config_override`, the client's and the override's both run.
    owner: u64,
    state: Arc<Mutex<CallState>>,
}

impl Storable for SdkCall {
    type Storer = StoreReplace<Self>;
}

impl fmt::Debug for SdkCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SdkCall")
    }
}

pub(super) struct CallState {
    retries: LegacyRetries,
    attempt_timeout: Option<Duration>,
    start: Instant,
    operation_timeout: Option<Duration>,
    // The attempt out or last sent: the SDK's attempt number less the
    // attempts that waited and went out again (`resends`).
    attempts: u32,
    // Attempts `ColdStartsHttpClient` did not send after a wait: the SDK
    // made each again, signed anew, and they do not count.
    resends: u32,
    // The attempt out waited and is to be made again.
    resending: bool,
    // The next attempt is the one that waited, made again: announced already.
    announced: bool,
    // The attempt `ColdStartsHttpClient` sent last (after any wait).
    sent: Option<u32>,
    // The no-capacity answers paced by the scale-out backoff (the call has
    // an `operation_timeout`): not counted against `max_retries`.
    paced: u32,
    // With event callbacks: what the events tell besides each attempt.
    observed: Observed,
    // With coalescing.
    ticket: Option<Box<Ticket>>,
    watch: Option<Box<Watch>>,
    // The last attempt spent botocore's budget, the probes the call waited
    // through included: the call ends with it, whatever its outcome.
    spent: bool,
    // An attempt has started and its end is not reported yet.
    in_attempt: bool,
    finished: bool,
}

impl SdkCall {
    fn new(owner: u64, retries: LegacyRetries, attempt_timeout: Option<Duration>) -> Self {
        let state = Arc::new(Mutex::new(CallState {
            retries,
            attempt_timeout,
            start: Instant::now(),
            operation_timeout: None,
            attempts: 0,
            resends: 0,
            resending: false,
            announced: false,
            sent: None,
            paced: 0,
            observed: Observed::default(),
            ticket: None,
            watch: None,
            spent: false,
            in_attempt: false,
            finished: false,
        }));
        Self { owner, state }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, CallState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the interceptor `id` drives this call.
    fn owned_by(&self, id: u64) -> bool {
        self.owner == id
    }

    /// Attempt `attempt` starts (before it is signed: one that fails there
    /// is an attempt too, as with the retry layer).
    fn attempt_starts(&self, sdk_attempt: u32, operation_timeout: Option<Duration>) {
        let mut state = self.lock();
        let attempt = sdk_attempt.saturating_sub(state.resends);
        state.attempts = attempt;
        state.in_attempt = true;
        state.operation_timeout = operation_timeout;
        if std::mem::take(&mut state.announced) || state.hooks_empty() {
            return;
        }
        let remaining = state.remaining();
        state
            .retries
            .emit(&RetryEvent::Attempt { attempt, remaining });
    }

    /// The attempt is handed to the HTTP client with `headers`: the events
    /// name its target model and inference component.
    fn transmitted(&self, headers: &Headers) {
        let mut state = self.lock();
        if state.hooks_empty() {
            return;
        }
        let header = |name: HeaderName| {
            let value = headers.get(name.as_str())?;
            HeaderValue::from_str(value).ok()
        };
        (state.observed).request(
            header(TARGET_MODEL_HEADER),
            header(INFERENCE_COMPONENT_HEADER),
        );
    }
}

impl CallState {
    fn hooks_empty(&self) -> bool {
        !self.retries.has_event_callbacks()
    }

    fn remaining(&self) -> Option<Duration> {
        let budget = self.operation_timeout?;
        Some(budget.saturating_sub(self.start.elapsed()))
    }

    fn deadline_passed(&self) -> bool {
        self.remaining().is_some_and(|r| r.is_zero())
    }

    /// Tells the event callbacks how an attempt ended (`status`, or
    /// `error`) and what follows.
    fn report(
        &self,
        status: Option<StatusCode>,
        error_code: Option<ErrorCode<'_>>,
        error: Option<&(dyn std::error::Error + 'static)>,
        reason: Option<RetryReason>,
        decision: Decision,
    ) {
        self.report_seen(
            Seen {
                status,
                error,
                between_attempts: false,
            },
            error_code,
            reason,
            decision,
        );
    }

    /// Tells the event callbacks how the call ended: with the attempt in
    /// flight, if one was (the `operation_timeout` cut it), else between
    /// attempts.
    fn report_call_end(
        &self,
        error: Option<&(dyn std::error::Error + 'static)>,
        reason: Option<RetryReason>,
        decision: Decision,
    ) {
        match self.in_attempt {
            true => self.report(None, None, error, reason, decision),
            false => self.report_end(error, reason, decision),
        }
    }

    /// Tells the event callbacks how the call ended between attempts.
    fn report_end(
        &self,
        error: Option<&(dyn std::error::Error + 'static)>,
        reason: Option<RetryReason>,
        decision: Decision,
    ) {
        self.report_seen(Seen::between_attempts(error), None, reason, decision);
    }

    fn report_seen(
        &self,
        seen: Seen<'_>,
        error_code: Option<ErrorCode<'_>>,
        reason: Option<RetryReason>,
        decision: Decision,
    ) {
        if self.hooks_empty() {
            return;
        }
        let classified = Classified {
            reason,
            code: error_code,
            reset: false,
        };
        let remaining = self.remaining();
        let outcome = (self.observed).outcome(self.attempts, seen, classified, decision, remaining);
        self.retries.emit(&RetryEvent::Outcome(outcome));
    }

    fn finish(&mut self) {
        self.finished = true;
        // A prober hands its role on now.
        self.watch = None;
        self.ticket = None;
    }

    /// The timeout [`ColdStartsHttpClient`](super::ColdStartsHttpClient)
    /// applies to the request it sends.
    pub(super) fn attempt_timeout(&self) -> Option<Duration> {
        self.attempt_timeout
    }

    pub(super) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The attempts under botocore's budget: all but the paced no-capacity answers.
    fn legacy_attempts(&self) -> u32 {
        Counted::of(self.attempts, self.paced, None).legacy
    }

    /// Before an attempt is sent: with coalescing, the wait for another
    /// call's probe, if the call must wait.
    pub(super) fn before_send(&mut self, uri: &str, headers: &Headers) -> Option<Box<Watch>> {
        let cold = self.retries.get_cold_starts()?.clone();
        if self.finished {
            return None;
        }
        if let Some(watch) = self.watch.take() {
            return Some(watch);
        }
        if self.ticket.is_some() {
            return None;
        }
        let uri: Uri = uri.parse().ok()?;
        let mut head = HeaderMap::new();
        for name in [TARGET_MODEL_HEADER, INFERENCE_COMPONENT_HEADER, HOST] {
            if let Some(value) = headers
                .get(name.as_str())
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                head.insert(name, value);
            }
        }
        // Without an `operation_timeout`, no-capacity answers count against
        // `max_retries`.
        let counts_no_capacity = self.operation_timeout.is_none();
        let (ticket, turn) = cold.join(&uri, |name| head.get(name), counts_no_capacity)?;
        let max = self.retries.get_max_retries();
        let ticket = self.ticket.insert(ticket);
        match turn == Turn::Wait && max > 0 {
            true => Some(Box::new(ticket.watch(max))),
            false => None,
        }
    }

    /// After a wait: each probe that failed meanwhile counts as one of the
    /// call's attempts.
    pub(super) fn waited(&mut self) {
        if let Some(ticket) = self.ticket.as_mut() {
            ticket.catch_up();
        }
    }

    /// Whether the last attempt spent botocore's budget, counting the probes
    /// the call waited through (which the SDK's own count leaves out).
    pub(super) fn spent(&self) -> bool {
        self.spent
    }

    /// `ColdStartsHttpClient` does not send the attempt, which waited: the
    /// SDK makes it again, signed anew.
    pub(super) fn resend(&mut self) {
        self.resending = true;
    }

    /// Whether the attempt out is one that waited and is made again.
    fn is_resending(&self) -> bool {
        self.resending
    }

    /// The attempt that waited has ended: the SDK makes it again, and that
    /// one neither counts as another attempt nor is announced again.
    /// Returns how many attempts the call has made again.
    fn resent(&mut self) -> u32 {
        self.resending = false;
        self.announced = true;
        self.resends += 1;
        self.resends
    }

    /// `ColdStartsHttpClient` sends the attempt out now.
    pub(super) fn sending(&mut self) {
        self.sent = Some(self.attempts);
    }

    /// After an attempt, with its `reason` (the classifier's verdict): counts
    /// a no-capacity answer under an `operation_timeout` as paced, and notes
    /// when the call first got a 429 and a no-capacity answer.
    pub(super) fn answered(&mut self, status: Option<StatusCode>, reason: Option<RetryReason>) {
        let paced = reason == Some(RetryReason::NoCapacity) && self.operation_timeout.is_some();
        self.paced += u32::from(paced);
        // Only the events read it: no clock read per attempt without them.
        if !self.hooks_empty() {
            self.observed.answered(status, reason);
        }
    }

    /// After an attempt [`answered`](Self::answered): reports its outcome to
    /// the call's ticket, and says what the classifier needs to know of it
    /// (`None` without a ticket, or when the HTTP client did not send the
    /// attempt, or once the `operation_timeout` passed: the call ends and
    /// its ticket with it).
    pub(super) fn after_attempt(&mut self, reason: Option<RetryReason>) -> Option<ColdStartMark> {
        if self.sent != Some(self.attempts) || self.deadline_passed() {
            return None;
        }
        let paced = reason == Some(RetryReason::NoCapacity) && self.operation_timeout.is_some();
        let max = self.retries.get_max_retries();
        let ticket = self.ticket.as_mut()?;
        // Waited-through probes count: the rule of `retry::Call`.
        let counted = Counted::of(self.attempts, self.paced, Some(ticket)).legacy;
        self.spent = !paced && counted > max;
        // The SDK's classifier retries what has a reason.
        self.watch = ticket.after_attempt(reason, paced, counted, max, reason.is_some());
        let wait = self.watch.is_some();
        Some(ColdStartMark { counted, wait })
    }
}

impl Drop for CallState {
    fn drop(&mut self) {
        if self.finished || self.hooks_empty() {
            return;
        }
        let decision = match self.deadline_passed() {
            true => Decision::DeadlineExceeded,
            false => Decision::Cancelled,
        };
        self.report_end(None, None, decision);
    }
}
