use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use http_body_util::Collected;
use pin_project_lite::pin_project;
use tower::BoxError;

pin_project! {
    /// The body of a response from [`CollectBody`](super::CollectBody):
    /// complete in memory, or, for a response left unread (one the retry
    /// layer would retry), the original body.
    pub struct CollectedBody<B: Body> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = Proj]
    enum Kind<B: Body> {
        Collected { body: Collected<B::Data> },
        Unread { #[pin] body: B },
    }
}

impl<B: Body> CollectedBody<B> {
    pub(super) fn collected(body: Collected<B::Data>) -> Self {
        Self {
            kind: Kind::Collected { body },
        }
    }

    pub(super) fn unread(body: B) -> Self {
        Self {
            kind: Kind::Unread { body },
        }
    }
}

impl<B: Body> CollectedBody<B> {
    /// Whether the body was read in full.
    pub fn is_collected(&self) -> bool {
        matches!(self.kind, Kind::Collected { .. })
    }
}

impl<B: Body> std::fmt::Debug for CollectedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.is_collected() {
            "Collected"
        } else {
            "Unread"
        };
        f.debug_tuple("CollectedBody").field(&kind).finish()
    }
}

impl<B> Body for CollectedBody<B>
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
        match self.project().kind.project() {
            Proj::Collected { body } => Pin::new(body)
                .poll_frame(cx)
                .map_err(|never| match never {}),
            Proj::Unread { body } => body.poll_frame(cx).map_err(Into::into),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Collected { body } => body.is_end_stream(),
            Kind::Unread { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Collected { body } => body.size_hint(),
            Kind::Unread { body } => body.size_hint(),
        }
    }
}
