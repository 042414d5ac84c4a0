//! The one decision that follows an attempt's outcome: retry after which
//! backoff, or hand the outcome to the caller.

use std::time::Duration;

use http::StatusCode;
use tokio::time::Instant;

use crate::deadline::Deadline;
use crate::retry::classify::Classified;
use crate::retry::cold_starts::Ticket;
use crate::retry::{whole_millis, Decision, LegacyRetries, RetryReason};
use crate::timer::far_future;

/// Which attempts of a call a retry decision counts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counted {
    /// Attempts under botocore's budget (`max_retries`), waited-through
    /// probes included.
    pub(crate) legacy: u32,
    /// No-capacity answers paced by the scale-out backoff, with a deadline
    /// bounding them (not in `legacy`).
    pub(crate) paced: u32,
}

impl Counted {
    /// Of `attempts` sent, `paced` were paced no-capacity answers; the call's
    /// `ticket`, if it has one, adds the other calls' failed probes it
    /// waited through.
    pub(crate) fn of(attempts: u32, paced: u32, ticket: Option<&Ticket>) -> Self {
        let witnessed = ticket.map_or(0, Ticket::witnessed);
        Self {
            legacy: attempts.saturating_sub(paced).saturating_add(witnessed),
            paced,
        }
    }
}

/// What follows an outcome retryable for `classified.reason` (or not), and
/// when the backoff ends if it is a retry: no retry past `max_retries`, and
/// none whose backoff would end at or after the deadline. A no-capacity
/// answer under a deadline is paced by the scale-out backoff and bounded by
/// the deadline alone. Logs the decision.
pub(crate) fn decide(
    retries: &LegacyRetries,
    deadline: Option<Deadline>,
    counted: Counted,
    status: Option<StatusCode>,
    classified: Classified<'_>,
) -> (Decision, Option<Instant>) {
    let Some(reason) = classified.reason else {
        return (Decision::Return, None);
    };
    let paced = reason == RetryReason::NoCapacity && deadline.is_some();
    if !paced && counted.legacy > retries.max_retries {
        return (Decision::RetriesExhausted, None);
    }
    let at_once = retries.reset_connection_at_once
        && counted.legacy == 1
        && reason == RetryReason::Transport
        && classified.reset;
    let delay = match (at_once, paced) {
        (true, _) => Duration::ZERO,
        (false, true) => retries.scale_out_backoff.delay(counted.paced),
        (false, false) => retries.backoff.delay(counted.legacy),
    };
    let delay = whole_millis(delay);
    let attempt = counted.legacy + counted.paced;
    let now = Instant::now();
    let wake = now.checked_add(delay);
    let outcome = OutcomeLog(status, reason);
    let delay_ms = delay.as_millis() as u64;
    let remaining_ms = deadline.map(|d| d.remaining().as_millis() as u64);
    if let Some(d) = deadline {
        if wake.is_none_or(|w| w >= d.instant()) {
            tracing::info!(
                attempt,
                %outcome,
                delay_ms,
                remaining_ms,
                "not retrying SageMaker call: backoff would end after the deadline"
            );
            return (Decision::DeadlineWouldPass, None);
        }
    }
    tracing::info!(attempt, %outcome, delay_ms, remaining_ms, "retrying SageMaker call");
    let wake = wake.unwrap_or_else(|| far_future(now));
    (Decision::Retry { delay }, Some(wake))
}

/// An attempt's outcome in a log line: its status, or its error kind; never
/// a body or a header.
struct OutcomeLog(Option<StatusCode>, RetryReason);

impl std::fmt::Display for OutcomeLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(status) => write!(f, "status {} ({})", status.as_u16(), self.1.as_str()),
            None => write!(f, "error ({})", self.1.as_str()),
        }
    }
}
