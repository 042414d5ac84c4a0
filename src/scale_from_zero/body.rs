use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The response body of [`NoCapacityCheck`](super::NoCapacityCheck): for
    /// any response but a 400 `ValidationError`, the body itself; for one,
    /// the frames read to look for the no-capacity message, then the rest of
    /// the body. Nothing read is dropped: an error met while reading comes
    /// after the frames read before it.
    pub struct PeekedBody<B: Body> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B: Body> {
        Untouched { #[pin] inner: B },
        // Read from while the future held it pinned: it stays boxed.
        Read { read: Box<Read<B>> },
    }
}

/// What was read from a body, and the body.
pub(super) struct Read<B: Body> {
    pub(super) frames: VecDeque<Frame<B::Data>>,
    // Data bytes in `frames`.
    pub(super) len: u64,
    pub(super) error: Option<B::Error>,
    // Whether `inner` has ended (it is not polled again).
    pub(super) ended: bool,
    pub(super) inner: Pin<Box<B>>,
}

impl<B: Body> PeekedBody<B> {
    /// `inner`, with nothing read from it.
    pub(super) fn new(inner: B) -> Self {
        Self {
            kind: Kind::Untouched { inner },
        }
    }

    /// What was read, then the rest.
    pub(super) fn after(read: Box<Read<B>>) -> Self {
        Self {
            kind: Kind::Read { read },
        }
    }
}

impl<B: Body> Body for PeekedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let read = match self.project().kind.project() {
            KindProj::Untouched { inner } => return inner.poll_frame(cx),
            KindProj::Read { read } => read,
        };
        if let Some(frame) = read.frames.pop_front() {
            if let Some(data) = frame.data_ref() {
                read.len -= data.remaining() as u64;
            }
            return Poll::Ready(Some(Ok(frame)));
        }
        if let Some(error) = read.error.take() {
            // Nothing is read after the error.
            read.ended = true;
            return Poll::Ready(Some(Err(error)));
        }
        if read.ended {
            return Poll::Ready(None);
        }
        read.inner.as_mut().poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Untouched { inner } => inner.is_end_stream(),
            Kind::Read { read } => {
                read.frames.is_empty()
                    && read.error.is_none()
                    && (read.ended || read.inner.is_end_stream())
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Untouched { inner } => inner.size_hint(),
            Kind::Read { read } if read.ended => SizeHint::with_exact(read.len),
            Kind::Read { read } => {
                let inner = read.inner.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(inner.lower().saturating_add(read.len));
                if let Some(upper) = inner.upper() {
                    hint.set_upper(upper.saturating_add(read.len));
                }
                hint
            }
        }
    }
}

impl<B: Body> std::fmt::Debug for PeekedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("PeekedBody");
        if let Kind::Read { read } = &self.kind {
            d.field("read_frames", &read.frames.len())
                .field("read_len", &read.len);
        }
        d.finish_non_exhaustive()
    }
}
