use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Buf;
use http::response::Parts;
use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;

use super::body::Read;
use super::PeekedBody;
use crate::error_code::ErrorCode;
use crate::retry::classify::{is_no_capacity_body, is_no_capacity_head};
use crate::retry::{ErrorBodyReadFailed, NoCapacity};

pin_project! {
    /// Response future of [`NoCapacityCheck`](super::NoCapacityCheck).
    pub struct ResponseFuture<F, B: Body> {
        #[pin]
        head: F,
        limit: usize,
        // Reading a `ValidationError` body, after the head came.
        reading: Option<(Parts, Box<Read<B>>)>,
    }
}

impl<F, B: Body> ResponseFuture<F, B> {
    pub(super) fn new(head: F, limit: usize) -> Self {
        Self {
            head,
            limit,
            reading: None,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
{
    type Output = Result<Response<PeekedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.reading.is_none() {
            let res = ready!(this.head.poll(cx))?;
            if !worth_reading(&res, *this.limit) {
                return Poll::Ready(Ok(res.map(PeekedBody::new)));
            }
            let (parts, body) = res.into_parts();
            let read = Read {
                frames: VecDeque::new(),
                len: 0,
                error: None,
                ended: false,
                inner: Box::pin(body),
            };
            *this.reading = Some((parts, Box::new(read)));
        }
        let (_, read) = this.reading.as_mut().expect("set above");
        // The data read so far in one piece, while it fits the limit and
        // each frame's data is contiguous: `None` once it is not the answer.
        let mut bytes = Some(Vec::new());
        for frame in &read.frames {
            if let Some(data) = frame.data_ref() {
                bytes
                    .as_mut()
                    .expect("still reading")
                    .extend_from_slice(data.chunk());
            }
        }
        let ended = loop {
            match ready!(read.inner.as_mut().poll_frame(cx)) {
                None => break true,
                Some(Err(error)) => {
                    read.error = Some(error);
                    break false;
                }
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        let len = data.remaining();
                        read.len += len as u64;
                        let fits = read.len <= *this.limit as u64 && data.chunk().len() == len;
                        match bytes.as_mut() {
                            Some(bytes) if fits => bytes.extend_from_slice(data.chunk()),
                            _ => bytes = None,
                        }
                    }
                    read.frames.push_back(frame);
                    // Past the limit it is not the answer looked for: the
                    // rest of the body is the caller's to read.
                    if bytes.is_none() {
                        break false;
                    }
                }
            }
        };
        let (mut parts, mut read) = this.reading.take().expect("set above");
        read.ended = ended;
        if ended && bytes.is_some_and(|b| is_no_capacity_body(&b)) {
            tracing::debug!("SageMaker inference component has no capacity (400 ValidationError)");
            parts.extensions.insert(NoCapacity);
        }
        if read.error.is_some() {
            // Read within the attempt, as botocore reads it: retried.
            parts.extensions.insert(ErrorBodyReadFailed);
        }
        Poll::Ready(Ok(Response::from_parts(parts, PeekedBody::after(read))))
    }
}

/// Whether a response may be the no-capacity answer: a 400 `ValidationError`
/// whose declared length, if any, fits the limit.
fn worth_reading<B: Body>(res: &Response<B>, limit: usize) -> bool {
    may_be_no_capacity(res.status(), res.headers())
        && res.body().size_hint().lower() <= limit as u64
}

/// Whether a response head may be the no-capacity answer: 400 and
/// `X-Amzn-ErrorType: ValidationError`.
pub(crate) fn may_be_no_capacity(status: http::StatusCode, headers: &http::HeaderMap) -> bool {
    is_no_capacity_head(status, ErrorCode::from_headers(headers))
}
