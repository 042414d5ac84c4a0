//! The retry layer's future: a thin driver of the call's [`Call`] controller.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use http::Extensions;
use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::BoxError;
use tower_service::Service;

use super::call::{Call, Next};
use super::cold_starts::Watch;
use super::extensions::{finish, take_deadline};
use super::request::Template;
use super::LegacyRetries;
use crate::timer::Timer;

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
        call: Call,
        // Whether a pending attempt needs the timer: not without an attempt
        // timeout when a `DeadlineLayer` above enforces the deadline.
        times_attempts: bool,
        // When the running attempt times out or the backoff ends; `None`
        // until an attempt is first found pending (most answer at once).
        wake_at: Option<Instant>,
        #[pin]
        state: State<S::Future>,
        // One timer serves the attempt timeout, the backoff and the deadline.
        timer: Timer,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Attempt { #[pin] future: F },
        // With coalescing, before the first poll: the call joins its model's
        // key when it runs, not when it is created, so a future created and
        // not yet polled holds up no other call.
        Join,
        Backoff,
        WaitForModel { watch: Box<Watch> },
        // Waits for the inner service to be ready, then sends.
        Ready,
        // The call ended before its first attempt (its deadline had passed).
        Failed { error: Option<BoxError> },
        Done,
    }
}

impl<S, B, R> ResponseFuture<S, B>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    B: Clone,
{
    pub(super) fn start(
        mut service: S,
        mut req: http::Request<B>,
        retries: LegacyRetries,
        attempt_timeout: Option<Duration>,
    ) -> Self {
        let (deadline, kept) = take_deadline(req.extensions_mut());
        let times_attempts =
            attempt_timeout.is_some() || !deadline.is_some_and(|d| d.is_enforced());
        let deadline = deadline.map(|d| d.enforced(false));
        let mut call = Call::new(retries, attempt_timeout, deadline, &req);
        call.stamp_call(req.headers_mut());
        let template = Template::capture(&req);
        // The first attempt sends the caller's request on the ready service.
        let state = match call.coalesces() {
            true => State::Join,
            false => match call.send() {
                Ok(()) => {
                    call.stamp_attempt(req.headers_mut());
                    State::Attempt {
                        future: service.call(req),
                    }
                }
                Err(error) => State::Failed { error: Some(error) },
            },
        };
        Self {
            service,
            template,
            kept,
            call,
            times_attempts,
            wake_at: None,
            state,
            timer: Timer::default(),
        }
    }
}

impl<S, B> std::fmt::Debug for ResponseFuture<S, B>
where
    S: Service<http::Request<B>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("attempts", &self.call.attempts())
            .field("deadline", &self.call.deadline())
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

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Attempt { future } => {
                    let mut outcome = match future.poll(cx) {
                        Poll::Ready(result) => result.map_err(Into::into),
                        // Pending until the `DeadlineLayer` above ends the call.
                        Poll::Pending if !*this.times_attempts => return Poll::Pending,
                        Poll::Pending => {
                            let call = &*this.call;
                            let end = *this.wake_at.get_or_insert_with(|| call.attempt_end());
                            ready!(this.timer.poll_until(end, cx));
                            Err(this.call.attempt_expired())
                        }
                    };
                    // The attempt's future is done: drop it before anything else.
                    this.state.set(State::Done);
                    match this.call.after_attempt(&*this.template, &mut outcome) {
                        Next::Finish => {
                            finish(&mut outcome, this.call, this.kept, this.template);
                            return Poll::Ready(outcome);
                        }
                        next => next,
                    }
                }
                StateProj::Join => this.call.join(&*this.template),
                StateProj::Backoff => {
                    let wake = this.wake_at.unwrap_or_else(Instant::now);
                    ready!(this.timer.poll_until(wake, cx));
                    Next::Send
                }
                StateProj::WaitForModel { watch } => {
                    if watch.poll_turn(cx).is_pending() {
                        ready!(poll_deadline(this.timer, this.call, cx));
                        this.state.set(State::Done);
                        return Poll::Ready(Err(this.call.deadline_passed()));
                    }
                    this.call.waited();
                    Next::Send
                }
                StateProj::Ready => {
                    let sent = match this.service.poll_ready(cx) {
                        Poll::Ready(Ok(())) => this.call.send(),
                        Poll::Ready(Err(err)) => Err(this.call.not_ready(err.into())),
                        // A service that stays busy must not hold the call
                        // past its deadline.
                        Poll::Pending => {
                            ready!(poll_deadline(this.timer, this.call, cx));
                            Err(this.call.deadline_passed())
                        }
                    };
                    if let Err(error) = sent {
                        this.state.set(State::Done);
                        return Poll::Ready(Err(error));
                    }
                    let mut req = this.template.request();
                    this.call.stamp_attempt(req.headers_mut());
                    let future = this.service.call(req);
                    *this.wake_at = None;
                    this.state.set(State::Attempt { future });
                    continue;
                }
                StateProj::Failed { error } => {
                    let error = error.take().expect("polled after completion");
                    return Poll::Ready(Err(error));
                }
                StateProj::Done => panic!("retry future polled after completion"),
            };
            match next {
                Next::Send => this.state.set(State::Ready),
                Next::SleepUntil(wake) => {
                    *this.wake_at = Some(wake);
                    this.state.set(State::Backoff);
                }
                Next::WaitForModel(watch) => {
                    // The ready service may hold capacity reserved for this
                    // call (a concurrency permit): a clone holds none while
                    // it waits.
                    *this.service = this.service.clone();
                    this.state.set(State::WaitForModel { watch });
                }
                // Only an attempt's outcome finishes a call, above.
                Next::Finish => unreachable!("a call finishes after an attempt"),
            }
        }
    }
}

/// Pending until the call's deadline; pending for ever without one.
fn poll_deadline(timer: &mut Timer, call: &Call, cx: &mut Context<'_>) -> Poll<()> {
    match call.deadline() {
        Some(d) => timer.poll_until(d.instant(), cx),
        None => Poll::Pending,
    }
}
