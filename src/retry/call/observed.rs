//! [`Observed`]: what a call's outcome events tell besides the attempt
//! itself, kept the same way by every driver of a call (the retry layer's
//! future, the policy, reqwest's `ColdStartsMiddleware` and the AWS SDK's
//! calls).

use std::error::Error as StdError;
use std::time::Duration;

use http::{HeaderValue, StatusCode};
use tokio::time::Instant;

use crate::retry::classify::Classified;
use crate::retry::event::{AttemptOutcome, Decision};
use crate::retry::RetryReason;

/// How an attempt ended, as the events and logs see it: its status, or its
/// error; or how the call ended between attempts (its error, if any).
#[derive(Clone, Copy, Default)]
pub(crate) struct Seen<'a> {
    pub(crate) status: Option<StatusCode>,
    pub(crate) error: Option<&'a (dyn StdError + 'static)>,
    /// No attempt ended here: the call did, between attempts.
    pub(crate) between_attempts: bool,
}

impl<'a> Seen<'a> {
    /// An attempt got a response with `status`.
    pub(crate) fn answer(status: StatusCode) -> Self {
        Self {
            status: Some(status),
            ..Self::default()
        }
    }

    /// An attempt failed with `error`.
    pub(crate) fn error(error: &'a (dyn StdError + 'static)) -> Self {
        Self {
            error: Some(error),
            ..Self::default()
        }
    }

    /// The call ended between attempts, with `error` if it has one.
    pub(crate) fn between_attempts(error: Option<&'a (dyn StdError + 'static)>) -> Self {
        Self {
            error,
            between_attempts: true,
            ..Self::default()
        }
    }
}

/// The request's target model and inference component, and when the call
/// first got a 429 and a no-capacity answer. Kept only when someone listens
/// to the events.
#[derive(Default)]
pub(crate) struct Observed {
    target_model: Option<HeaderValue>,
    component: Option<HeaderValue>,
    first_429: Option<Instant>,
    first_no_capacity: Option<Instant>,
}

impl Observed {
    /// Notes the request's target model and inference component; the first
    /// ones noted stand.
    pub(crate) fn request(
        &mut self,
        target_model: Option<HeaderValue>,
        component: Option<HeaderValue>,
    ) {
        if self.target_model.is_none() {
            self.target_model = target_model;
        }
        if self.component.is_none() {
            self.component = component;
        }
    }

    /// Notes an attempt's answer: its status and the classifier's reason.
    pub(crate) fn answered(&mut self, status: Option<StatusCode>, reason: Option<RetryReason>) {
        if status == Some(StatusCode::TOO_MANY_REQUESTS) {
            self.first_429.get_or_insert_with(Instant::now);
        }
        if reason == Some(RetryReason::NoCapacity) {
            self.first_no_capacity.get_or_insert_with(Instant::now);
        }
    }

    /// Whether the call has had a no-capacity answer.
    #[cfg(feature = "reqwest")]
    pub(crate) fn had_no_capacity(&self) -> bool {
        self.first_no_capacity.is_some()
    }

    /// The outcome event of attempt `attempt` (or of the call, when it ends
    /// between attempts).
    pub(crate) fn outcome<'a>(
        &'a self,
        attempt: u32,
        seen: Seen<'a>,
        classified: Classified<'a>,
        decision: Decision,
        remaining: Option<Duration>,
    ) -> AttemptOutcome<'a> {
        let text = |v: &'a Option<HeaderValue>| v.as_ref().and_then(|v| v.to_str().ok());
        AttemptOutcome {
            attempt,
            status: seen.status,
            error_code: classified.code,
            error: seen.error,
            reason: classified.reason,
            decision,
            remaining,
            between_attempts: seen.between_attempts,
            target_model: text(&self.target_model),
            inference_component: text(&self.component),
            since_first_429: self.first_429.map(|t| t.elapsed()),
            since_first_no_capacity: self.first_no_capacity.map(|t| t.elapsed()),
        }
    }
}
