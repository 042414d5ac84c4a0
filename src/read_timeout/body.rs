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
    ///
    /// A frame that is ready at once costs no clock read and no timer. A
    /// wait reads the clock once; its timer is armed when the first wait
    /// comes (or is the one the response head waited on) and is not moved
    /// for every wait: it stays at the end of an earlier wait, and only
    /// when it fires there, with the current wait not yet over, is it
    /// re-armed, at the current wait's end.
    pub struct ReadTimeoutBody<B> {
        #[pin]
        inner: B,
        timeout: Duration,
        // When the current wait runs out; `None` between waits.
        until: Option<Instant>,
        // Armed no later than `until` (see `Timer::poll_by`).
        timer: Timer,
    }
}

impl<B> ReadTimeoutBody<B> {
    /// A body whose waits are bounded by `timeout`; `timer` is the one the
    /// response head waited on, if it did (armed at an earlier end).
    pub(super) fn new(inner: B, timeout: Duration, timer: Timer) -> Self {
        Self {
            inner,
            timeout,
            until: None,
            timer,
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
        ready!(this.timer.poll_by(until, cx));
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

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use futures_util::StreamExt;
    use http_body_util::{BodyExt, StreamBody};

    use super::*;

    type Frames = Pin<Box<dyn futures_util::Stream<Item = Result<Frame<Bytes>, BoxError>> + Send>>;

    /// `n` frames, each `gap` after the one before, then silence.
    fn spaced(n: usize, gap: Duration) -> StreamBody<Frames> {
        let frames = futures_util::stream::iter(0..n).then(move |_| async move {
            tokio::time::sleep(gap).await;
            Ok::<_, BoxError>(Frame::data(Bytes::from_static(b"a")))
        });
        StreamBody::new(Box::pin(frames.chain(futures_util::stream::pending())))
    }

    const TIMEOUT: Duration = Duration::from_secs(1);

    #[tokio::test(start_paused = true)]
    async fn quick_frames_leave_the_timer_where_the_first_wait_armed_it() {
        let start = Instant::now();
        let mut body = ReadTimeoutBody::new(
            spaced(5, Duration::from_millis(100)),
            TIMEOUT,
            Timer::default(),
        );
        assert_eq!(body.timer.armed_at(), None);
        for _ in 0..5 {
            body.frame().await.unwrap().unwrap();
        }
        // Five waits, one `Sleep`, never reset: still at the first wait's end.
        assert_eq!(body.timer.armed_at(), Some(start + TIMEOUT));
        // The stall: the `Sleep` fires at 1 s, is re-armed once at the
        // stall's own end, and the read fails there.
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(err.downcast_ref::<ReadTimedOut>().unwrap().is_body());
        let end = start + Duration::from_millis(500) + TIMEOUT;
        assert_eq!(Instant::now(), end);
        assert_eq!(body.timer.armed_at(), Some(end));
    }

    #[tokio::test(start_paused = true)]
    async fn frames_six_tenths_of_the_timeout_apart_re_arm_only_when_the_timer_fires() {
        let gap = TIMEOUT * 6 / 10;
        let start = Instant::now();
        let mut body = ReadTimeoutBody::new(spaced(30, gap), TIMEOUT, Timer::default());
        for i in 1..=30u32 {
            body.frame().await.unwrap().unwrap();
            assert_eq!(Instant::now(), start + gap * i);
            // Armed no later than the end of the wait that starts now, and
            // no earlier than the end of the one before (which it outlived).
            let armed = body.timer.armed_at().unwrap();
            assert!(armed <= Instant::now() + TIMEOUT, "frame {i}");
            assert!(armed >= start + gap * (i - 1) + TIMEOUT, "frame {i}");
        }
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(err.downcast_ref::<ReadTimedOut>().unwrap().is_body());
        assert_eq!(Instant::now(), start + gap * 30 + TIMEOUT);
    }
}
