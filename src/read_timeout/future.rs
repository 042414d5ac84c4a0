use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::BoxError;

use super::{ReadTimedOut, ReadTimeoutBody};
use crate::timer::Timer;

pin_project! {
    /// Response future of [`ReadTimeout`](super::ReadTimeout): the head
    /// within the read timeout, or [`ReadTimedOut`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        timeout: Duration,
        // False when a layer above bounds the head.
        times_head: bool,
        // When the head must have come; set when the inner future is first
        // found pending (most in-memory services answer at once).
        until: Option<Instant>,
        timer: Timer,
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(inner: F, timeout: Duration, times_head: bool) -> Self {
        Self {
            inner,
            timeout,
            times_head,
            until: None,
            timer: Timer::default(),
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<R>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<http::Response<ReadTimeoutBody<R>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.inner.poll(cx) {
            let timeout = *this.timeout;
            // The head's timer, if it waited, goes on to the body: armed at
            // the head's end, earlier than any wait of the body ends.
            let timer = this.timer.take();
            return Poll::Ready(match result {
                Ok(res) => Ok(res.map(|body| ReadTimeoutBody::new(body, timeout, timer))),
                Err(e) => Err(e.into()),
            });
        }
        if !*this.times_head {
            return Poll::Pending;
        }
        let timeout = *this.timeout;
        let until = *this
            .until
            .get_or_insert_with(|| Instant::now().checked_add(timeout).unwrap_or_else(far));
        ready!(this.timer.poll_until(until, cx));
        Poll::Ready(Err(ReadTimedOut::head(timeout).into()))
    }
}

/// For a timeout too large for the clock: never.
pub(super) fn far() -> Instant {
    crate::timer::far_future(Instant::now())
}
