use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::{Extensions, StatusCode};

use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::BoxError;
use tower_service::Service;

use super::cold_starts::{is_model_not_ready, Ticket, Turn, Watch};
use super::decide::decide;
use super::event::{AttemptOutcome, Decision, Hooks, RetryEvent};
use super::template::Template;
use super::{AttemptTimedOut, Attempts, RetryReason, Settings};
use crate::deadline::Deadline;
use crate::sagemaker::TARGET_MODEL_HEADER;
use crate::timer::{far_future, Timer};

pin_project! {
    /// Response future of [`ModelNotReadyRetry`](super::ModelNotReadyRetry).
    pub struct ResponseFuture<S, B>
    where
        S: Service<http::Request<B>>,
    {
        service: S,
        // What each retry sends a copy of.
        template: Template<B>,
        // The request's extension map when it held the `Deadline` alone (or
        // nothing): it goes back on the response, so `Attempts` costs one
        // allocation there rather than three.
        kept: Extensions,
        settings: Settings,
        deadline: Option<Deadline>,
        // Attempts started so far.
        attempts: u32,
        // When the running attempt times out or the backoff ends; `None`
        // until an attempt is first found pending (most answer at once).
        wake_at: Option<Instant>,
        #[pin]
        state: State<S::Future>,
        // One timer serves both the attempt timeout and the backoff sleep.
        timer: Timer,
        // With observers: when this call first got a 429.
        first_429: Option<Instant>,
        // With cold-start coalescing: the call's registration for its model.
        cold: Option<Box<Ticket>>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Attempt { #[pin] future: F },
        Backoff,
        // With coalescing, before the first poll: the call joins its model's
        // key when it runs, not when it is created, so a future created and
        // not yet polled holds up no other call.
        Join,
        // Waits for another call's probe of the loading model.
        WaitTurn { watch: Box<Watch> },
        WaitReady,
        // The deadline had passed before the first attempt could start.
        Expired { deadline: Deadline },
    }
}

impl<S, B, R> ResponseFuture<S, B>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    B: Clone,
{
    pub(super) fn start(mut service: S, mut req: http::Request<B>, settings: Settings) -> Self {
        let (deadline, kept) = take_deadline(req.extensions_mut());
        let template = Template::capture(&req);
        let expired = deadline.filter(Deadline::is_expired);
        let joins = settings.cold_starts.is_some();
        // Never start an attempt after the deadline, also when no
        // `DeadlineLayer` above has checked it.
        let state = match expired {
            Some(deadline) => State::Expired { deadline },
            None if joins => State::Join,
            None => State::Attempt {
                future: service.call(req),
            },
        };
        if !settings.hooks.is_empty() && matches!(state, State::Attempt { .. }) {
            settings.hooks.emit(&RetryEvent::Attempt {
                attempt: 1,
                remaining: deadline.map(|d| d.remaining()),
            });
        }
        Self {
            service,
            template,
            kept,
            settings,
            deadline,
            attempts: if joins { 0 } else { 1 },
            wake_at: None,
            state,
            timer: Timer::default(),
            first_429: None,
            cold: None,
        }
    }
}

/// Takes the `Deadline` out of a request's extensions: this layer enforces
/// it on every attempt, and services beneath do not see it. When the map held
/// nothing else, the whole map is returned, `Deadline` inside, for the
/// response to carry.
#[inline]
fn take_deadline(extensions: &mut Extensions) -> (Option<Deadline>, Extensions) {
    let deadline = extensions.get::<Deadline>().copied();
    if extensions.len() <= usize::from(deadline.is_some()) {
        return (deadline, std::mem::take(extensions));
    }
    if deadline.is_some() {
        extensions.remove::<Deadline>();
    }
    (deadline, Extensions::new())
}

/// When an attempt running from now times out: after `min(attempt_timeout,
/// remaining)`, or never. Asked for when the attempt is first found pending:
/// most attempts answer at once and need no clock reading.
fn attempt_end(settings: &Settings, deadline: Option<&Deadline>) -> Instant {
    let now = Instant::now();
    let by_timeout = settings.attempt_timeout.and_then(|t| now.checked_add(t));
    match (by_timeout, deadline.map(Deadline::instant)) {
        (Some(a), Some(d)) => a.min(d),
        (a, d) => a.or(d).unwrap_or_else(|| far_future(now)),
    }
}

impl<S, B> std::fmt::Debug for ResponseFuture<S, B>
where
    S: Service<http::Request<B>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("attempts", &self.attempts)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl<S, B, R> Future for ResponseFuture<S, B>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Clone,
    S::Error: Into<BoxError>,
    B: Clone,
{
    type Output = Result<http::Response<R>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let poll = self.as_mut().poll_call(cx);
        if poll.is_ready() {
            // Leave the model's key now: a prober hands its role on even
            // when the caller keeps the finished future.
            *self.project().cold = None;
        }
        poll
    }
}

impl<S, B, R> ResponseFuture<S, B>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Clone,
    S::Error: Into<BoxError>,
    B: Clone,
{
    fn poll_call(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<http::Response<R>, BoxError>> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Attempt { future } => {
                    let mut outcome: Result<http::Response<R>, BoxError> = match future.poll(cx) {
                        Poll::Ready(result) => result.map_err(Into::into),
                        Poll::Pending => {
                            let end = *this.wake_at.get_or_insert_with(|| {
                                attempt_end(this.settings, this.deadline.as_ref())
                            });
                            ready!(this.timer.poll_until(end, cx));
                            match *this.deadline {
                                Some(d) if d.is_expired() => {
                                    let err: BoxError = d.exceeded().into();
                                    observe(
                                        &this.settings.hooks,
                                        *this.attempts,
                                        &Err::<http::Response<R>, _>(err),
                                        None,
                                        Decision::DeadlineExceeded,
                                        *this.deadline,
                                        this.template,
                                        this.first_429,
                                    );
                                    return Poll::Ready(Err(d.exceeded().into()));
                                }
                                _ => Err(AttemptTimedOut::new(
                                    this.settings.attempt_timeout.unwrap_or_default(),
                                    *this.attempts,
                                )
                                .into()),
                            }
                        }
                    };
                    // The attempt's future is done: drop it before anything else.
                    this.state.set(State::Backoff);

                    let reason = match &outcome {
                        Ok(res) => this
                            .settings
                            .classifier
                            .classify_response(res.status(), res.headers()),
                        Err(err) => {
                            if let Some(d) = this.deadline.filter(|d| d.is_expired()) {
                                observe(
                                    &this.settings.hooks,
                                    *this.attempts,
                                    &outcome,
                                    None,
                                    Decision::DeadlineExceeded,
                                    *this.deadline,
                                    this.template,
                                    this.first_429,
                                );
                                return Poll::Ready(Err(d.exceeded().into()));
                            }
                            this.settings.classifier.classify_error(&**err)
                        }
                    };
                    let attempts = *this.attempts;
                    let counted = match this.cold.as_deref() {
                        Some(ticket) => attempts.saturating_add(ticket.witnessed()),
                        None => attempts,
                    };
                    let (mut decision, wake) =
                        decide(this.settings, *this.deadline, counted, &outcome, reason);
                    let mut waits = false;
                    if let Some(ticket) = this.cold.as_mut() {
                        let retries = matches!(decision, Decision::Retry { .. });
                        let may_wait = retries && counted < this.settings.max_retries;
                        if ticket.report(is_model_not_ready(&outcome), may_wait) == Turn::Wait {
                            decision = Decision::WaitForModel;
                            waits = true;
                        }
                    }
                    if !this.settings.hooks.is_empty() {
                        if matches!(&outcome, Ok(res) if res.status() == StatusCode::TOO_MANY_REQUESTS)
                        {
                            this.first_429.get_or_insert_with(Instant::now);
                        }
                        observe(
                            &this.settings.hooks,
                            attempts,
                            &outcome,
                            reason,
                            decision,
                            *this.deadline,
                            this.template,
                            this.first_429,
                        );
                    }
                    if let (true, Some(ticket)) = (waits, this.cold.as_ref()) {
                        tracing::info!(
                            attempt = attempts,
                            "SageMaker model still loading: waiting for another call's probe"
                        );
                        let budget = this.settings.max_retries - counted;
                        this.state.set(State::WaitTurn {
                            watch: Box::new(ticket.watch(budget)),
                        });
                        continue;
                    }
                    let Some(wake) = wake else {
                        finish(
                            &mut outcome,
                            attempts,
                            this.kept,
                            this.template,
                            *this.deadline,
                        );
                        return Poll::Ready(outcome);
                    };
                    *this.wake_at = Some(wake);
                }
                StateProj::Backoff => {
                    let wake = this.wake_at.unwrap_or_else(Instant::now);
                    ready!(this.timer.poll_until(wake, cx));
                    if let Some(d) = this.deadline.filter(|d| d.is_expired()) {
                        return Poll::Ready(Err(d.exceeded().into()));
                    }
                    this.state.set(State::WaitReady);
                }
                StateProj::Join => {
                    let joined = match &this.settings.cold_starts {
                        Some(cold) => {
                            let template = &*this.template;
                            cold.join(template.uri(), |name| template.header(name))
                        }
                        None => None,
                    };
                    if let Some((ticket, turn)) = joined {
                        // A call that could not retry after its first
                        // attempt has no attempt to spare for waiting.
                        if turn == Turn::Wait && this.settings.max_retries > 0 {
                            // The ready service may hold capacity reserved
                            // for this call (a concurrency permit): a clone
                            // holds none while it waits.
                            *this.service = this.service.clone();
                            let watch = Box::new(ticket.watch(this.settings.max_retries));
                            *this.cold = Some(ticket);
                            this.state.set(State::WaitTurn { watch });
                            continue;
                        }
                        *this.cold = Some(ticket);
                    }
                    // The first attempt goes out as retries do.
                    this.state.set(State::WaitReady);
                }
                StateProj::WaitTurn { watch } => {
                    if watch.poll_turn(cx).is_pending() {
                        // The wait ends at the deadline too.
                        if let Some(d) = this.deadline {
                            ready!(this.timer.poll_until(d.instant(), cx));
                            return Poll::Ready(Err(d.exceeded().into()));
                        }
                        return Poll::Pending;
                    }
                    if let Some(ticket) = this.cold.as_mut() {
                        ticket.catch_up();
                    }
                    this.state.set(State::WaitReady);
                }
                StateProj::WaitReady => {
                    match this.service.poll_ready(cx) {
                        Poll::Ready(Ok(())) => {}
                        Poll::Ready(Err(err)) => return Poll::Ready(Err(err.into())),
                        Poll::Pending => {
                            // A service that stays busy must not hold the
                            // call past its deadline.
                            if let Some(d) = this.deadline {
                                ready!(this.timer.poll_until(d.instant(), cx));
                                return Poll::Ready(Err(d.exceeded().into()));
                            }
                            return Poll::Pending;
                        }
                    }
                    if let Some(d) = this.deadline.filter(|d| d.is_expired()) {
                        return Poll::Ready(Err(d.exceeded().into()));
                    }
                    *this.attempts += 1;
                    let future = this.service.call(this.template.request());
                    *this.wake_at = None;
                    this.state.set(State::Attempt { future });
                    if !this.settings.hooks.is_empty() {
                        this.settings.hooks.emit(&RetryEvent::Attempt {
                            attempt: *this.attempts,
                            remaining: this.deadline.map(|d| d.remaining()),
                        });
                    }
                }
                StateProj::Expired { deadline } => {
                    return Poll::Ready(Err(deadline.exceeded().into()));
                }
            }
        }
    }
}

/// Tells the observers how an attempt ended and what follows.
#[allow(clippy::too_many_arguments)]
fn observe<B, R>(
    hooks: &Hooks,
    attempt: u32,
    outcome: &Result<http::Response<R>, BoxError>,
    reason: Option<RetryReason>,
    decision: Decision,
    deadline: Option<Deadline>,
    template: &Template<B>,
    first_429: &Option<Instant>,
) {
    if hooks.is_empty() {
        return;
    }
    let target_model = template
        .header(&TARGET_MODEL_HEADER)
        .and_then(|v| v.to_str().ok());
    hooks.emit(&RetryEvent::Outcome(AttemptOutcome::new(
        attempt,
        outcome,
        reason,
        decision,
        deadline,
        target_model,
        first_429.map(|t| t.elapsed()),
    )));
}

/// The caller's answer: on a response, `Attempts` and the call's `Deadline`
/// go into its extensions, in a map reused from the request where there is one.
///
/// Works in place: a response is large, and every move of it is a copy.
fn finish<B: Clone, R>(
    outcome: &mut Result<http::Response<R>, BoxError>,
    attempts: u32,
    kept: &mut Extensions,
    template: &mut Template<B>,
    deadline: Option<Deadline>,
) {
    let Ok(res) = outcome else { return };
    let mut extensions = std::mem::take(kept);
    // A kept map that is not empty holds the deadline already.
    if extensions.is_empty() {
        if let Some(copied) = template.take_extensions() {
            extensions = copied;
        }
        if let Some(deadline) = deadline {
            extensions.insert(deadline);
        }
    }
    extensions.insert(Attempts(attempts));
    res.extensions_mut().extend(extensions);
}
