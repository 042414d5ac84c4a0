//! What follows an attempt: the one decision function of the retry layer
//! and the retry policy, and its log lines.

use std::time::Duration;

use tokio::time::Instant;
use tower::BoxError;

use super::event::Decision;
use super::transport::is_reset_connection;
use super::{RetryReason, Settings};
use crate::deadline::Deadline;
use crate::timer::far_future;

/// What follows an attempt whose outcome is retryable for `reason` (or not):
/// the decision, and when the backoff ends if it is a retry. The one place
/// the layer and the policy decide.
pub(super) fn decide<R>(
    settings: &Settings,
    deadline: Option<Deadline>,
    attempts: u32,
    outcome: &Result<http::Response<R>, BoxError>,
    reason: Option<RetryReason>,
) -> (Decision, Option<Instant>) {
    let Some(reason) = reason else {
        return (Decision::Return, None);
    };
    if attempts > settings.max_retries {
        return (Decision::RetriesExhausted, None);
    }
    match backoff_end(settings, deadline, attempts, outcome, reason) {
        Some((wake, delay)) => (Decision::Retry { delay }, Some(wake)),
        None => (Decision::DeadlineWouldPass, None),
    }
}

/// When the backoff before the next attempt ends and how long it is, or
/// `None` when it would end at or after the deadline (then the call stops
/// with this outcome). Logs the decision either way.
fn backoff_end<R>(
    settings: &Settings,
    deadline: Option<Deadline>,
    attempts: u32,
    outcome: &Result<http::Response<R>, BoxError>,
    reason: RetryReason,
) -> Option<(Instant, Duration)> {
    let at_once = settings.reset_connection_at_once
        && attempts == 1
        && reason == RetryReason::Transport
        && matches!(outcome, Err(e) if is_reset_connection(&**e));
    let delay = if at_once {
        Duration::ZERO
    } else {
        // tokio's timers tick in whole milliseconds and round up: flooring
        // keeps the sleep below the backoff's ceiling.
        let delay = settings.backoff.delay(attempts);
        Duration::from_millis(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX))
    };
    let now = Instant::now();
    let wake = now.checked_add(delay);
    if let Some(d) = deadline {
        if wake.is_none_or(|w| w >= d.instant()) {
            tracing::info!(
                attempt = attempts,
                outcome = %Outcome(outcome, reason),
                delay_ms = delay.as_millis() as u64,
                remaining_ms = d.remaining().as_millis() as u64,
                "not retrying SageMaker call: backoff would end after the deadline"
            );
            return None;
        }
    }
    tracing::info!(
        attempt = attempts,
        outcome = %Outcome(outcome, reason),
        delay_ms = delay.as_millis() as u64,
        remaining_ms = deadline.map(|d| d.remaining().as_millis() as u64),
        "retrying SageMaker call"
    );
    Some((wake.unwrap_or_else(|| far_future(now)), delay))
}

/// Logs an attempt's outcome: its status, or its error kind; never a body or header.
struct Outcome<'a, R>(&'a Result<http::Response<R>, BoxError>, RetryReason);

impl<R> std::fmt::Display for Outcome<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Ok(res) => write!(f, "status {} ({})", res.status().as_u16(), self.1.as_str()),
            Err(_) => write!(f, "error ({})", self.1.as_str()),
        }
    }
}
