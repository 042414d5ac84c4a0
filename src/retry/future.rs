use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::BoxError;
use tower_service::Service;

use super::template::Template;
use super::{AttemptTimedOut, Attempts, RetryReason, Settings};
use crate::deadline::far_future;
use crate::timer::Timer;
use crate::Deadline;

pin_project! {
    /// Response future of [`ModelNotReadyRetry`](super::ModelNotReadyRetry).
    pub struct ResponseFuture<S, B>
    where
        S: Service<http::Request<B>>,
    {
        service: S,
        // What each retry sends a copy of; `None` when retries are off.
        template: Option<Template<B>>,
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
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Attempt { #[pin] future: F },
        Backoff,
        WaitReady,
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
        settings: Settings,
        deadline: Option<Deadline>,
    ) -> Self {
        let template = (settings.max_retries > 0).then(|| Template::capture(&mut req));
        let future = service.call(req);
        Self {
            service,
            template,
            settings,
            deadline,
            attempts: 1,
            wake_at: None,
            state: State::Attempt { future },
            timer: Timer::default(),
        }
    }
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
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Error: Into<BoxError>,
    B: Clone,
{
    type Output = Result<http::Response<R>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Attempt { future } => {
                    let outcome: Result<http::Response<R>, BoxError> = match future.poll(cx) {
                        Poll::Ready(result) => result.map_err(Into::into),
                        Poll::Pending => {
                            let end = *this.wake_at.get_or_insert_with(|| {
                                attempt_end(this.settings, this.deadline.as_ref())
                            });
                            ready!(this.timer.poll_until(end, cx));
                            match this.deadline {
                                Some(d) if d.is_expired() => {
                                    return Poll::Ready(Err(d.exceeded().into()))
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
                                return Poll::Ready(Err(d.exceeded().into()));
                            }
                            this.settings.classifier.classify_error(&**err)
                        }
                    };
                    let attempts = *this.attempts;
                    let Some(reason) = reason.filter(|_| attempts <= this.settings.max_retries)
                    else {
                        return Poll::Ready(finish(outcome, attempts, this.template.take()));
                    };
                    // tokio's timers tick in whole milliseconds and round up:
                    // flooring keeps the sleep below the backoff's ceiling.
                    let delay = this.settings.backoff.delay(attempts);
                    let delay =
                        Duration::from_millis(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
                    let now = Instant::now();
                    let wake = now.checked_add(delay);
                    if let Some(d) = this.deadline {
                        if wake.is_none_or(|w| w >= d.instant()) {
                            tracing::info!(
                                attempt = attempts,
                                outcome = %Outcome(&outcome, reason),
                                delay_ms = delay.as_millis() as u64,
                                remaining_ms = d.remaining().as_millis() as u64,
                                "not retrying SageMaker call: backoff would end after the deadline"
                            );
                            return Poll::Ready(finish(outcome, attempts, this.template.take()));
                        }
                    }
                    tracing::info!(
                        attempt = attempts,
                        outcome = %Outcome(&outcome, reason),
                        delay_ms = delay.as_millis() as u64,
                        remaining_ms = this.deadline.map(|d| d.remaining().as_millis() as u64),
                        "retrying SageMaker call"
                    );
                    *this.wake_at = Some(wake.unwrap_or_else(|| far_future(now)));
                }
                StateProj::Backoff => {
                    let wake = this.wake_at.unwrap_or_else(Instant::now);
                    ready!(this.timer.poll_until(wake, cx));
                    if let Some(d) = this.deadline.filter(|d| d.is_expired()) {
                        return Poll::Ready(Err(d.exceeded().into()));
                    }
                    this.state.set(State::WaitReady);
                }
                StateProj::WaitReady => {
                    if let Err(err) = ready!(this.service.poll_ready(cx)) {
                        return Poll::Ready(Err(err.into()));
                    }
                    *this.attempts += 1;
                    let Some(template) = this.template.as_ref() else {
                        // Unreachable: retries happen only when a template was kept.
                        return Poll::Ready(Err("no request to retry".into()));
                    };
                    let req = template.request();
                    let future = this.service.call(req);
                    *this.wake_at = None;
                    this.state.set(State::Attempt { future });
                }
            }
        }
    }
}

fn finish<R, B: Clone>(
    outcome: Result<http::Response<R>, BoxError>,
    attempts: u32,
    template: Option<Template<B>>,
) -> Result<http::Response<R>, BoxError> {
    outcome.map(|mut res| {
        // Reuse the request's extension map when there is one: inserting
        // then costs one allocation instead of three.
        let mut extensions = template.map(Template::into_extensions).unwrap_or_default();
        extensions.insert(Attempts(attempts));
        res.extensions_mut().extend(extensions);
        res
    })
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
