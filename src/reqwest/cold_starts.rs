//! [`ColdStartsMiddleware`]: cold-start coalescing for reqwest-middleware
//! clients, with the crate's [`ColdStarts`](crate::retry::ColdStarts), and
//! the pacing of an inference component's scale-out from zero.

use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};

use http::{Extensions, HeaderMap, StatusCode, Uri};
use reqwest_middleware::{Middleware, Next};
use tokio::time::Instant;

use super::attempt_headers::PacedAnswers;
use super::{is_transient, NoRetriesLeft};
use crate::deadline::Deadline;
use crate::retry::classify::Classified;
use crate::retry::{
    decide, Counted, Decision, LegacyRetries, Observed, RetryEvent, RetryReason, Seen, Ticket,
    Turn, Watch,
};
use crate::sagemaker::{INFERENCE_COMPONENT_HEADER, TARGET_MODEL_HEADER};

/// Cold-start coalescing for a reqwest-middleware client set up with
/// [`LegacyRetries::coalesce_cold_starts`]: while a model loads, one call
/// at a time asks the endpoint about it and the others wait for its answer,
/// as with the crate's retry layer (see [`ColdStarts`](crate::retry::ColdStarts)).
/// With [`LegacyRetries::scale_from_zero`], it also paces the retries of an
/// inference component scaling out from zero (see below). With neither in
/// its settings it passes requests through.
///
/// Put it **after** (inside) `reqwest_retry::RetryTransientMiddleware`,
/// which runs it once per attempt, and before
/// [`AttemptDeadlineMiddleware`](super::AttemptDeadlineMiddleware) (so that
/// an attempt's timeout counts from when it is sent, not from the start of
/// its wait). [`ClientBuilderExt::multi_model_endpoint_with`](super::ClientBuilderExt::multi_model_endpoint_with)
/// adds it there when the settings ask for coalescing.
///
/// reqwest-middleware hands every attempt of one call the same extensions:
/// the call's place among the calls for its model (its ticket) lives there,
/// from its first attempt to the end of the call. [`DeadlineMiddleware`](super::DeadlineMiddleware)
/// before the retry middleware takes it out when the call ends (the
/// builders put it there); without it, give every call extensions of its
/// own (`send` does; a map passed to `execute_with_extensions` and kept
/// would hold the ticket, and the calls waiting for its probe, until it is
/// dropped). For each attempt it
///
/// - joins the model's key (host, endpoint,
///   `X-Amzn-SageMaker-Target-Model` and
///   `X-Amzn-SageMaker-Inference-Component`) on the call's first attempt and, when
///   another call is probing the model, waits for that probe's answer; on
///   later attempts, waits when the last answer said so; then it sends;
/// - reports the response to the key (429 `ModelNotReadyException` or not;
///   an error without a response counts as "not loading", as with the tower
///   layer) and, when the model is loading and another call probes it,
///   arranges for the call's next attempt to wait for that probe.
///
/// # Attempts and the retry middleware
///
/// reqwest-retry keeps a call's retry count to itself: its policy sees the
/// number of retries the call made, its strategy sees each response, and
/// neither can be told of the probes a call waited through. So:
///
/// - A call never sends more requests than without coalescing: the
///   retry middleware still allows `max_retries + 1` of them.
/// - The failed probes a call waited through count as its attempts where
///   the strategy can see them: each response carries the call's count
///   (its own attempts plus the failed probes it waited through), and
///   [`LegacyRetryableStrategy`](super::LegacyRetryableStrategy) stops
///   retrying once that count reaches `max_retries + 1`, as the tower layer
///   does. A waiting call also stops waiting when it has one attempt left,
///   and makes it.
/// - The backoff sleep is [`LegacyBackoffPolicy`](super::LegacyBackoffPolicy)'s,
///   drawn from the call's own retries: after a 429 the retry middleware
///   sleeps it even when the call is to wait for another call's probe; the
///   wait runs from the 429 on, so the call sends at the later of the sleep's
///   end and its turn.
///
/// # Inference components scaling from zero
///
/// With [`LegacyRetries::scale_from_zero`] (and `NoCapacityMiddleware`,
/// feature `scale-from-zero`, after it to find the answers), it applies the
/// retry layer's rule to a component's no-capacity answers: with a
/// [`Deadline`] in the call's extensions
/// ([`DeadlineMiddleware`](super::DeadlineMiddleware)), it retries them
/// itself, within one attempt of the retry middleware, paced by the
/// settings' [`scale_out_backoff`](LegacyRetries::scale_out_backoff) (10 to
/// 30 s apart), not counted against `max_retries`, until a retry would start
/// at or after the deadline: the call then ends with that answer
/// ([`LegacyRetryableStrategy`](super::LegacyRetryableStrategy) makes it
/// `Fatal`). The decision is the retry layer's own, made by the same code.
/// Whatever answer ends the wait goes up to the retry middleware, which
/// treats it as one attempt. Without a deadline, the answers go up as
/// retryable and reqwest-retry retries them with the legacy backoff within
/// `max_retries`, as the tower layer does without one.
///
/// With coalescing, the key includes `X-Amzn-SageMaker-Inference-Component`:
/// while a component scales out, one call at a time asks and the others wait
/// for its answer, until the copy is ready or their deadline; the prober's
/// no-capacity answers do not count as their attempts, and each one reaches
/// the endpoint (that failure is what the alarm starting the scale-out
/// counts). With event callbacks ([`LegacyRetries::on_event`]), it reports
/// [`RetryEvent::Outcome`](crate::retry::RetryEvent::Outcome) for each
/// no-capacity answer it decides on (reason `NoCapacity`, the component) and
/// for the success that ends a call's scale-out wait (with
/// `since_first_no_capacity`, which
/// `RetryMetrics` (feature `metrics`) records as the scale-out wait).
///
/// A waiting call ends at the call's deadline
/// ([`DeadlineMiddleware`](super::DeadlineMiddleware) drops it) or when its
/// future is dropped; either way its ticket goes with the call's
/// extensions, and a prober hands its role to a waiting call.
///
/// ```
/// use std::time::Duration;
/// use reqwest_retry::RetryTransientMiddleware;
/// use tower_sagemaker::reqwest::{
///     AttemptDeadlineMiddleware, ColdStartsMiddleware, DeadlineMiddleware, LegacyBackoffPolicy,
///     LegacyRetryableStrategy,
/// };
/// use tower_sagemaker::retry::{ColdStarts, LegacyRetries};
///
/// let retries = LegacyRetries::new().coalesce_cold_starts(ColdStarts::new());
/// // What `ClientBuilderExt::multi_model_endpoint_with` builds for these settings.
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(DeadlineMiddleware::new(Duration::from_secs(360)))
///     .with(RetryTransientMiddleware::new_with_policy_and_strategy(
///         LegacyBackoffPolicy::new(&retries),
///         LegacyRetryableStrategy::new(&retries),
///     ))
///     .with(ColdStartsMiddleware::new(&retries))
///     .with(AttemptDeadlineMiddleware::new())
///     .build();
/// # let _ = client;
/// ```
#[derive(Debug, Clone)]
pub struct ColdStartsMiddleware {
    retries: LegacyRetries,
}

impl ColdStartsMiddleware {
    /// Coalesces with the [`ColdStarts`](crate::retry::ColdStarts) of
    /// `retries` and, with [`scale_from_zero`](LegacyRetries::scale_from_zero),
    /// paces no-capacity retries with its
    /// [`scale_out_backoff`](LegacyRetries::scale_out_backoff) (neither:
    /// requests pass through), counting attempts against its `max_retries`
    /// and classifying with its classifier.
    pub fn new(retries: &LegacyRetries) -> Self {
        Self {
            retries: retries.clone(),
        }
    }

    /// Whether the settings coalesce.
    pub fn is_coalescing(&self) -> bool {
        self.retries.get_cold_starts().is_some()
    }

    /// Whether the settings ride an inference component's scale-out from
    /// zero ([`LegacyRetries::scale_from_zero`]): this middleware then paces
    /// the retries of no-capacity answers under a deadline.
    pub fn is_pacing_scale_outs(&self) -> bool {
        self.retries.get_classifier().get_scale_from_zero()
    }
}

/// What [`ColdStartsMiddleware`] learnt of an attempt, on its response for
/// [`LegacyRetryableStrategy`](super::LegacyRetryableStrategy): whether the
/// call ends with this response, retryable or not. It does when the
/// attempts the call has made under botocore's budget, counting the failed
/// probes it waited through, leave it none, and when it is a no-capacity
/// answer this middleware gave up on (the next paced retry would end after
/// the deadline).
#[derive(Debug, Clone, Copy)]
pub(super) struct ColdStartMark {
    pub(super) give_up: bool,
}

/// Takes a finished call's state out of its extensions (see
/// [`DeadlineMiddleware`](super::DeadlineMiddleware)): its ticket leaves the
/// model's key.
pub(super) fn end_call(extensions: &mut Extensions) {
    extensions.remove::<ReqwestCall>();
}

/// One call's state, in its middleware extensions.
#[derive(Clone)]
struct ReqwestCall(Arc<Mutex<CallState>>);

impl fmt::Debug for ReqwestCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReqwestCall")
    }
}

#[derive(Default)]
struct CallState {
    // The attempts this call sent, the one out included.
    attempts: u32,
    // Of those, the no-capacity answers paced by the scale-out backoff.
    paced: u32,
    ticket: Option<Box<Ticket>>,
    watch: Option<Box<Watch>>,
    // With event callbacks: what the events tell besides each attempt.
    observed: Observed,
}

/// What the middleware does after an attempt.
enum After {
    /// The response (or error) goes up to the retry middleware, with what
    /// the strategy needs to know of it.
    Return(Option<ColdStartMark>),
    /// A paced no-capacity retry: sleep until then, then send again.
    SleepUntil(Instant),
    /// A paced no-capacity retry that waits for another call's probe of
    /// the component, then sends.
    Wait(Box<Watch>),
}

impl ReqwestCall {
    fn lock(&self) -> MutexGuard<'_, CallState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl CallState {
    /// Before an attempt is sent: the wait for another call's probe, if
    /// the call must wait. `paced`: its no-capacity answers are paced under
    /// a deadline (else they count against `max_retries`).
    fn before_send(
        &mut self,
        retries: &LegacyRetries,
        req: &::reqwest::Request,
        paced: bool,
    ) -> Option<Box<Watch>> {
        if self.attempts == 0 && retries.has_event_callbacks() {
            let header = |name| req.headers().get(name).cloned();
            (self.observed).request(
                header(TARGET_MODEL_HEADER),
                header(INFERENCE_COMPONENT_HEADER),
            );
        }
        let cold = retries.get_cold_starts()?;
        if let Some(watch) = self.watch.take() {
            return Some(watch);
        }
        if self.ticket.is_some() {
            return None;
        }
        let uri: Uri = req.url().as_str().parse().ok()?;
        let (ticket, turn) = cold.join(&uri, |name| req.headers().get(name), !paced)?;
        let max = retries.get_max_retries();
        let ticket = self.ticket.insert(ticket);
        match turn == Turn::Wait && max > 0 {
            true => Some(Box::new(ticket.watch(max))),
            false => None,
        }
    }

    /// After a wait: each probe that failed meanwhile counts as one of the
    /// call's attempts.
    fn waited(&mut self) {
        if let Some(ticket) = self.ticket.as_mut() {
            ticket.catch_up();
        }
    }

    /// After an attempt: classifies its outcome with the crate's rule and,
    /// for a no-capacity answer under a deadline that the call can send
    /// again, decides the paced retry as the retry layer does; reports the
    /// outcome to the call's ticket.
    fn after_attempt(
        &mut self,
        retries: &LegacyRetries,
        deadline: Option<Deadline>,
        can_resend: bool,
        response: Option<(StatusCode, &HeaderMap, &Extensions)>,
    ) -> After {
        let classified = match response {
            Some((status, headers, extensions)) => retries
                .get_classifier()
                .classify_parts(status, headers, extensions),
            None => Classified::default(),
        };
        let status = response.map(|(status, _, _)| status);
        let no_capacity = classified.reason == Some(RetryReason::NoCapacity);
        // The retry layer's rule: with a deadline, a no-capacity answer is
        // retried outside botocore's budget, paced by the scale-out backoff.
        // reqwest-retry's policy cannot tell it from other retries, so this
        // middleware makes those retries itself.
        let paced = no_capacity && deadline.is_some() && can_resend;
        self.paced += u32::from(paced);
        let counted = Counted::of(self.attempts, self.paced, self.ticket.as_deref());
        let max = retries.get_max_retries();
        if retries.has_event_callbacks() {
            self.observed.answered(status, classified.reason);
        }
        if !paced {
            // reqwest-retry decides, counting its own retries; the strategy
            // reads the mark. It retries what has a reason.
            let reason = classified.reason;
            if let Some(ticket) = self.ticket.as_mut() {
                self.watch =
                    ticket.after_attempt(reason, false, counted.legacy, max, reason.is_some());
            }
            // A success that ends a scale-out wait: the only outcome of the
            // call's end the middleware knows for sure.
            if status.is_some_and(|s| s.is_success()) && self.observed.had_no_capacity() {
                self.report(retries, deadline, status, classified, Decision::Return);
            }
            let give_up = counted.legacy > max;
            return After::Return(
                (self.ticket.is_some() || give_up).then_some(ColdStartMark { give_up }),
            );
        }
        let (mut decision, wake) = decide(retries, deadline, counted, status, classified);
        let retrying = matches!(decision, Decision::Retry { .. });
        let watch = self.ticket.as_mut().and_then(|ticket| {
            ticket.after_attempt(classified.reason, true, counted.legacy, max, retrying)
        });
        if watch.is_some() {
            decision = Decision::WaitForModel;
        }
        self.report(retries, deadline, status, classified, decision);
        match (watch, wake) {
            (Some(watch), _) => {
                tracing::info!(
                    attempt = self.attempts,
                    what = "inference component scaling out",
                    "SageMaker endpoint not ready: waiting for another call's probe"
                );
                After::Wait(watch)
            }
            (None, Some(wake)) => After::SleepUntil(wake),
            (None, None) => {
                // The call ends with this answer: a prober hands its role on.
                self.ticket = None;
                After::Return(Some(ColdStartMark { give_up: true }))
            }
        }
    }

    /// Tells the event callbacks how an attempt ended and what follows.
    fn report(
        &self,
        retries: &LegacyRetries,
        deadline: Option<Deadline>,
        status: Option<StatusCode>,
        classified: Classified<'_>,
        decision: Decision,
    ) {
        if !retries.has_event_callbacks() {
            return;
        }
        let seen = Seen {
            status,
            ..Seen::default()
        };
        let remaining = deadline.map(|d| d.remaining());
        let outcome = (self.observed).outcome(self.attempts, seen, classified, decision, remaining);
        retries.emit(&RetryEvent::Outcome(outcome));
    }
}

#[async_trait::async_trait]
impl Middleware for ColdStartsMiddleware {
    async fn handle(
        &self,
        req: ::reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<::reqwest::Response> {
        if !self.is_coalescing() && !self.is_pacing_scale_outs() {
            return next.run(req, extensions).await;
        }
        let call = extensions
            .get_or_insert_with(|| ReqwestCall(Arc::default()))
            .clone();
        let deadline = extensions.get::<Deadline>().copied();
        let pacing = self.is_pacing_scale_outs() && deadline.is_some();
        let mut req = req;
        loop {
            let watch = call.lock().before_send(&self.retries, &req, pacing);
            if let Some(mut watch) = watch {
                poll_fn(|cx| watch.poll_turn(cx)).await;
                call.lock().waited();
            }
            // Kept for a paced retry (reqwest-retry clones each attempt's
            // request the same way; a body that cannot be cloned is never
            // retried).
            let spare = if pacing { req.try_clone() } else { None };
            call.lock().attempts += 1;
            let result = next.clone().run(req, extensions).await;
            let after = {
                let mut state = call.lock();
                let response = result
                    .as_ref()
                    .ok()
                    .map(|res| (res.status(), res.headers(), res.extensions()));
                state.after_attempt(&self.retries, deadline, spare.is_some(), response)
            };
            if matches!(after, After::SleepUntil(_) | After::Wait(_)) {
                // `AttemptHeadersMiddleware` raises `max` by the paced answers.
                extensions.insert(PacedAnswers(call.lock().paced));
            }
            match (after, spare) {
                (After::SleepUntil(wake), Some(spare)) => {
                    tokio::time::sleep_until(wake).await;
                    req = spare;
                }
                (After::Wait(watch), Some(spare)) => {
                    call.lock().watch = Some(watch);
                    req = spare;
                }
                (after, _) => {
                    let mark = match after {
                        After::Return(mark) => mark,
                        // Not reached: a retry is paced only with a request
                        // kept to resend. The call would end here.
                        After::SleepUntil(_) | After::Wait(_) => {
                            Some(ColdStartMark { give_up: true })
                        }
                    };
                    return match (result, mark) {
                        (Ok(mut res), Some(mark)) => {
                            res.extensions_mut().insert(mark);
                            Ok(res)
                        }
                        // The strategy sees no extensions on an error: a
                        // retryable one says so by its type.
                        (Err(err), Some(ColdStartMark { give_up: true }))
                            if is_transient(self.retries.get_classifier(), &err) =>
                        {
                            Err(reqwest_middleware::Error::middleware(NoRetriesLeft::new(
                                err,
                            )))
                        }
                        (result, _) => result,
                    };
                }
            }
        }
    }
}
