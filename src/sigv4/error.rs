use std::fmt;

use http::HeaderName;
use tower::BoxError;

/// A request could not be signed; nothing was sent.
///
/// Returned inside a [`tower::BoxError`] by [`SigV4Layer`](super::SigV4Layer)'s service.
pub struct SigningError {
    kind: ErrorKind,
}

#[derive(Debug)]
pub(super) enum ErrorKind {
    NoHost,
    HeaderNotAscii(HeaderName),
    Body(BoxError),
    #[cfg(feature = "reqwest")]
    StreamingBody,
    Sign(BoxError),
    Polled,
}

impl SigningError {
    pub(super) fn new(kind: ErrorKind) -> Self {
        Self { kind }
    }

    /// A reqwest request whose body is a stream: it cannot be hashed
    /// before it is sent, so it cannot be signed.
    #[cfg(feature = "reqwest")]
    pub(crate) fn streaming_body() -> Self {
        Self::new(ErrorKind::StreamingBody)
    }

    /// The request had neither an absolute URI nor a `Host` header.
    pub fn is_missing_host(&self) -> bool {
        matches!(self.kind, ErrorKind::NoHost)
    }

    /// The header whose value is not visible ASCII, when that is the cause.
    pub fn invalid_header(&self) -> Option<&HeaderName> {
        match &self.kind {
            ErrorKind::HeaderNotAscii(name) => Some(name),
            _ => None,
        }
    }

    /// Reading the request body failed, or (reqwest) the body is a stream,
    /// which cannot be hashed before it is sent.
    pub fn is_body(&self) -> bool {
        match self.kind {
            ErrorKind::Body(_) => true,
            #[cfg(feature = "reqwest")]
            ErrorKind::StreamingBody => true,
            _ => false,
        }
    }
}

impl fmt::Display for SigningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot sign the request with SigV4: ")?;
        match &self.kind {
            ErrorKind::NoHost => f.write_str("its URI has no host and it has no Host header"),
            // The value may be secret: name the header only.
            ErrorKind::HeaderNotAscii(name) => {
                write!(f, "the value of header `{name}` is not visible ASCII")
            }
            ErrorKind::Body(_) => f.write_str("reading its body failed"),
            #[cfg(feature = "reqwest")]
            ErrorKind::StreamingBody => {
                f.write_str("its body is a stream, which cannot be hashed before it is sent")
            }
            ErrorKind::Sign(_) => f.write_str("the signer failed"),
            ErrorKind::Polled => f.write_str("the response future was polled after completion"),
        }
    }
}

impl std::error::Error for SigningError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Body(e) | ErrorKind::Sign(e) => Some(&**e),
            _ => None,
        }
    }
}

impl fmt::Debug for SigningError {
    /// The type, the message and its cause (never a header value).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningError(\"{self}")?;
        if let Some(source) = std::error::Error::source(self) {
            write!(f, ": {source}")?;
        }
        f.write_str("\")")
    }
}
