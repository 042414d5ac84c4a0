//! The one parser for SageMaker Runtime error codes.

use http::HeaderMap;

use crate::sagemaker::{ERROR_TYPE_HEADER, LEGACY_THROTTLING_CODES};

/// The code of a SageMaker Runtime error response, sanitised and borrowed from it.
///
/// restJson1 services send the code in `X-Amzn-ErrorType`, sometimes decorated
/// with a namespace (`com.amazon#Code`) or a URI after a colon
/// (`ModelNotReadyException:http://internal.amazon.com/...`). [`ErrorCode::parse`]
/// keeps what is before the first `:`, then what is after the last `#`, as the
/// AWS SDKs do. Codes compare case-insensitively.
///
/// ```
/// use tower_sagemaker::ErrorCode;
///
/// let code = ErrorCode::parse("ModelNotReadyException:http://internal.amazon.com/coral/x/").unwrap();
/// assert_eq!(code, ErrorCode::MODEL_NOT_READY);
/// assert_eq!(code.as_str(), "ModelNotReadyException");
/// assert!(ErrorCode::parse("aws.protocols#ThrottlingException").unwrap().is_legacy_throttling());
/// ```
#[derive(Debug, Clone, Copy, Eq)]
pub struct ErrorCode<'a>(&'a str);

impl ErrorCode<'static> {
    /// `ModelNotReadyException` (429): the target model is still loading.
    pub const MODEL_NOT_READY: Self = Self("ModelNotReadyException");
    /// `ValidationError` (400): the request is invalid.
    pub const VALIDATION_ERROR: Self = Self("ValidationError");
    /// `ModelError` (424): the model container answered an error.
    pub const MODEL_ERROR: Self = Self("ModelError");
    /// `InternalFailure` (500).
    pub const INTERNAL_FAILURE: Self = Self("InternalFailure");
    /// `ServiceUnavailable` (503).
    pub const SERVICE_UNAVAILABLE: Self = Self("ServiceUnavailable");
    /// `InternalDependencyException` (530).
    pub const INTERNAL_DEPENDENCY: Self = Self("InternalDependencyException");
    /// `ThrottlingException` (400 in legacy semantics).
    pub const THROTTLING: Self = Self("ThrottlingException");
}

impl<'a> ErrorCode<'a> {
    /// Sanitises a raw code; `None` when nothing is left.
    pub fn parse(raw: &'a str) -> Option<Self> {
        let raw = raw.split(':').next().unwrap_or(raw);
        let code = raw.rsplit('#').next().unwrap_or(raw).trim();
        (!code.is_empty()).then_some(Self(code))
    }

    /// The code in a response's `X-Amzn-ErrorType` header, if it has one.
    ///
    /// Only the code itself (before the first `:`) must be UTF-8: what
    /// follows it, a URI in practice, may hold any bytes.
    pub fn from_headers(headers: &'a HeaderMap) -> Option<Self> {
        let bytes = headers.get(ERROR_TYPE_HEADER)?.as_bytes();
        let code = bytes.split(|b| *b == b':').next().unwrap_or(bytes);
        std::str::from_utf8(code).ok().and_then(Self::parse)
    }

    /// The sanitised code.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// Whether this is one of the throttling codes botocore's legacy mode retries.
    pub fn is_legacy_throttling(&self) -> bool {
        LEGACY_THROTTLING_CODES
            .iter()
            .any(|c| c.eq_ignore_ascii_case(self.0))
    }

    /// The HTTP status SageMaker Runtime answers with this code, for the codes it documents.
    pub fn status(&self) -> Option<http::StatusCode> {
        const DOCUMENTED: [(ErrorCode<'static>, u16); 6] = [
            (ErrorCode::MODEL_NOT_READY, 429),
            (ErrorCode::VALIDATION_ERROR, 400),
            (ErrorCode::MODEL_ERROR, 424),
            (ErrorCode::INTERNAL_FAILURE, 500),
            (ErrorCode::SERVICE_UNAVAILABLE, 503),
            (ErrorCode::INTERNAL_DEPENDENCY, 530),
        ];
        let status = DOCUMENTED
            .iter()
            .find(|(code, _)| code == self)
            .map(|(_, status)| *status)
            .or_else(|| self.is_legacy_throttling().then_some(400))?;
        http::StatusCode::from_u16(status).ok()
    }
}

impl PartialEq for ErrorCode<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(other.0)
    }
}

impl std::hash::Hash for ErrorCode<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for b in self.0.bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

impl std::fmt::Display for ErrorCode<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitises_like_the_sdks() {
        let p = |s| ErrorCode::parse(s).map(|c| c.as_str());
        assert_eq!(p("ModelNotReadyException"), Some("ModelNotReadyException"));
        assert_eq!(
            p("ModelNotReadyException:http://internal.amazon.com/coral/com.amazon.sagemaker/"),
            Some("ModelNotReadyException")
        );
        assert_eq!(
            p("aws.protocols#ThrottlingException"),
            Some("ThrottlingException")
        );
        assert_eq!(p("a#b#Code:uri#x"), Some("Code"));
        assert_eq!(p(""), None);
        assert_eq!(p(":uri"), None);
        assert_eq!(p("ns#"), None);
    }

    #[test]
    fn compares_case_insensitively() {
        assert_eq!(
            ErrorCode::parse("modelnotreadyexception").unwrap(),
            ErrorCode::MODEL_NOT_READY
        );
        assert!(ErrorCode::parse("THROTTLING")
            .unwrap()
            .is_legacy_throttling());
        assert!(!ErrorCode::VALIDATION_ERROR.is_legacy_throttling());
    }

    #[test]
    fn statuses() {
        assert_eq!(ErrorCode::MODEL_NOT_READY.status().unwrap().as_u16(), 429);
        assert_eq!(ErrorCode::MODEL_ERROR.status().unwrap().as_u16(), 424);
        assert_eq!(
            ErrorCode::INTERNAL_DEPENDENCY.status().unwrap().as_u16(),
            530
        );
        assert_eq!(ErrorCode::parse("Unknown").unwrap().status(), None);
    }

    #[test]
    fn from_headers() {
        let mut h = HeaderMap::new();
        assert!(ErrorCode::from_headers(&h).is_none());
        h.insert(ERROR_TYPE_HEADER, "ValidationError:x".parse().unwrap());
        assert_eq!(
            ErrorCode::from_headers(&h),
            Some(ErrorCode::VALIDATION_ERROR)
        );
        // Non-UTF-8 bytes after the code do not hide it.
        h.insert(
            ERROR_TYPE_HEADER,
            http::HeaderValue::from_bytes(b"ThrottlingException:\xff\xfe").unwrap(),
        );
        assert_eq!(ErrorCode::from_headers(&h), Some(ErrorCode::THROTTLING));
        // In the code itself, they do.
        h.insert(
            ERROR_TYPE_HEADER,
            http::HeaderValue::from_bytes(b"Throttling\xffException").unwrap(),
        );
        assert_eq!(ErrorCode::from_headers(&h), None);
    }
}
