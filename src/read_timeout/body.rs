use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::BoxError;

use super::future::far;
use super::ReadTimedOut;
use crate::timer::Timer;

pin_project! {
    /// The body of a response from [`ReadTimeout`](super::ReadTimeout): each
    /// wait for a frame is bounded by the read timeout, and one that runs
    /// over fails with [`ReadTimedOut`] ([`is_body`](ReadTimedOut::is_body)).
    ///
    /// The clock of a wait starts when the read finds no frame ready and
    /// stops when one arrives, as a socket timeout does: a slow but steady
    /// body never times out.
    pub struct ReadTimeoutBody<B> {
        #[pin]
        inner: B,
        timeout: Duration,
        // When the current wait runs out; `None` between waits.
        until: Option<Instant>,
        timer: Timer,
    }
}

impl<B> ReadTimeoutBody<B> {
    pub(super) fn new(inner: B, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            until: None,
            timer: Timer::default(),
        }
    }

    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }

    /// Unwraps the body: its reads are then no longer bounded.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B> std::fmt::Debug for ReadTimeoutBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadTimeoutBody")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<B> Body for ReadTimeoutBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            *this.until = None;
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let timeout = *this.timeout;
        let until = *this
            .until
            .get_or_insert_with(|| Instant::now().checked_add(timeout).unwrap_or_else(far));
        ready!(this.timer.poll_until(until, cx));
        *this.until = None;
        Poll::Ready(Some(Err(ReadTimedOut::body(timeout).into())))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
