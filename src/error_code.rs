//! The one parser for SageMaker Runtime error codes.

use http::HeaderMap;

use crate::sagemaker::{ERROR_TYPE_HEADER, LEGACY_THROTTLING_CODES};

/// The code of a SageMaker Runtime error response, sanitised and borrowed from it.
///
/// restJson1 services send the code in `X-Amzn-ErrorType`, sometimes decorated
/// with a namespace (`com.amazon#Code`) or a URI after a colon
/// (`ModelNotReadyException:http://internal.amazon.com/...`). [`ErrorCode::parse`]
/// keeps what is before the first `:`, then what is after the last `#`, as
/// botocore does, and nothing more: whitespace is kept (`ThrottlingException :uri`
/// is the code `ThrottlingException `). Codes compare exactly, case included,
/// as every AWS SDK compares them: `throttlingexception` is not `ThrottlingException`.
///
/// ```
/// use tower_sagemaker::ErrorCode;
///
/// let code = ErrorCode::parse("ModelNotReadyException:http://internal.amazon.com/coral/x/").unwrap();
/// assert_eq!(code, ErrorCode::MODEL_NOT_READY);
/// assert_eq!(code.as_str(), "ModelNotReadyException");
/// assert!(ErrorCode::parse("aws.protocols#ThrottlingException").unwrap().is_legacy_throttling());
/// assert!(!ErrorCode::parse("throttlingexception").unwrap().is_legacy_throttling());
/// assert_eq!(ErrorCode::parse("ThrottlingException :uri").unwrap().as_str(), "ThrottlingException ");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// Sanitises a raw code: what is before the first `:`, then what is
    /// after the last `#`, untrimmed; `None` when nothing is left.
    pub fn parse(raw: &'a str) -> Option<Self> {
        let before_colon = raw.split(':').next().unwrap_or(raw);
        let code = before_colon.rsplit('#').next().unwrap_or(before_colon);
        (!code.is_empty()).then_some(Self(code))
    }

    /// The code in a response's `X-Amzn-ErrorType` header, if it has one.
    ///
    /// The header is read as bytes, cut as [`ErrorCode::parse`] cuts a code,
    /// and only the code itself must be UTF-8: the namespace before the last
    /// `#` and the URI after the first `:` may hold any bytes, as botocore
    /// throws them away whatever they are. A code with bytes that are not
    /// UTF-8 is `None`; botocore reads header bytes as ISO-8859-1, so such a
    /// code is not ASCII there either and equals none of the codes the
    /// legacy rules or the SDKs know.
    ///
    /// botocore joins repeated headers with `", "` before parsing. When the
    /// header is repeated, the code is read from the joined value; a code
    /// that would span two of the values (it holds `", "`) is `None`.
    pub fn from_headers(headers: &'a HeaderMap) -> Option<Self> {
        let mut values = headers.get_all(ERROR_TYPE_HEADER).iter();
        let first = values.next()?.as_bytes();
        let mut rest = values.peekable();
        if rest.peek().is_none() {
            return Self::from_bytes(first);
        }
        // The value in which the joined header's first `:` falls, or the last one.
        let mut end = first;
        let mut index = 0;
        for value in std::iter::once(first).chain(rest.map(|v| v.as_bytes())) {
            end = value;
            if value.contains(&b':') {
                break;
            }
            index += 1;
        }
        let before_colon = end.split(|b| *b == b':').next().unwrap_or(end);
        if index > 0 && !before_colon.contains(&b'#') {
            // The code starts in an earlier value: it holds a `", "`.
            return None;
        }
        Self::from_bytes(end)
    }

    /// The code in raw header bytes (see [`ErrorCode::from_headers`]).
    fn from_bytes(raw: &'a [u8]) -> Option<Self> {
        let code = code_bytes(raw);
        if code.is_empty() {
            return None;
        }
        std::str::from_utf8(code).ok().map(Self)
    }

    /// The sanitised code.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// Whether this is one of the throttling codes botocore's legacy mode retries.
    pub fn is_legacy_throttling(&self) -> bool {
        LEGACY_THROTTLING_CODES.contains(&self.0)
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

impl std::fmt::Display for ErrorCode<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// botocore's cut of a raw error code: the bytes before the first `:`, then
/// those after the last `#` (`code.split(':', 1)[0].rsplit('#', 1)[-1]`).
fn code_bytes(raw: &[u8]) -> &[u8] {
    let before_colon = raw.split(|b| *b == b':').next().unwrap_or(raw);
    before_colon
        .rsplit(|b| *b == b'#')
        .next()
        .unwrap_or(before_colon)
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
        // Whitespace is part of the code, as botocore keeps it.
        assert_eq!(p("ThrottlingException :uri"), Some("ThrottlingException "));
        assert_eq!(p("ns# ThrottlingException"), Some(" ThrottlingException"));
        assert_eq!(p("\tThrottling"), Some("\tThrottling"));
        assert_eq!(p(" "), Some(" "));
    }

    #[test]
    fn compares_exactly() {
        assert_ne!(
            ErrorCode::parse("modelnotreadyexception").unwrap(),
            ErrorCode::MODEL_NOT_READY
        );
        assert_eq!(
            ErrorCode::parse("ns#ModelNotReadyException:uri").unwrap(),
            ErrorCode::MODEL_NOT_READY
        );
        for code in ["THROTTLING", "throttlingexception", "ThrottlingException "] {
            assert!(
                !ErrorCode::parse(code).unwrap().is_legacy_throttling(),
                "{code:?}"
            );
        }
        for code in crate::sagemaker::LEGACY_THROTTLING_CODES {
            assert!(ErrorCode::parse(code).unwrap().is_legacy_throttling());
        }
        assert!(!ErrorCode::VALIDATION_ERROR.is_legacy_throttling());
        assert_eq!(
            ErrorCode::parse("throttlingexception").unwrap().status(),
            None
        );

        use std::hash::BuildHasher;
        let hasher = std::collections::hash_map::RandomState::new();
        let a = ErrorCode::parse("a#ModelError").unwrap();
        assert_eq!(hasher.hash_one(a), hasher.hash_one(ErrorCode::MODEL_ERROR));
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
        // Nor before the `#`: the namespace is thrown away whatever its bytes.
        h.insert(
            ERROR_TYPE_HEADER,
            http::HeaderValue::from_bytes(b"\xff\xfe.ns#RequestThrottledException:\x80").unwrap(),
        );
        assert_eq!(
            ErrorCode::from_headers(&h).map(|c| c.as_str()),
            Some("RequestThrottledException")
        );
        // In the code itself, they leave no code: botocore reads the bytes as
        // ISO-8859-1, which gives no ASCII code either.
        h.insert(
            ERROR_TYPE_HEADER,
            http::HeaderValue::from_bytes(b"Throttling\xffException").unwrap(),
        );
        assert_eq!(ErrorCode::from_headers(&h), None);
        // Untrimmed.
        h.insert(
            ERROR_TYPE_HEADER,
            http::HeaderValue::from_bytes(b"ThrottlingException\t:uri").unwrap(),
        );
        assert_eq!(
            ErrorCode::from_headers(&h).map(|c| c.as_str()),
            Some("ThrottlingException\t")
        );
    }

    /// botocore joins a repeated header with `", "`, then cuts the code.
    #[test]
    fn from_repeated_headers() {
        let code = |values: &[&[u8]]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(ERROR_TYPE_HEADER, http::HeaderValue::from_bytes(v).unwrap());
            }
            ErrorCode::from_headers(&h).map(|c| c.as_str().to_owned())
        };
        // "ThrottlingException, ThrottlingException": no code the crate knows.
        assert_eq!(
            code(&[b"ThrottlingException", b"ThrottlingException"]),
            None
        );
        assert_eq!(code(&[b"ValidationError", b"ThrottlingException"]), None);
        // "ThrottlingException:uri, x" -> "ThrottlingException".
        assert_eq!(
            code(&[b"ns#ThrottlingException:uri", b"x"]).as_deref(),
            Some("ThrottlingException")
        );
        // "a, ns#ThrottlingException" -> "ThrottlingException".
        assert_eq!(
            code(&[b"a", b"ns#ThrottlingException"]).as_deref(),
            Some("ThrottlingException")
        );
        // "a, b#Code:uri, c" -> "Code".
        assert_eq!(code(&[b"a", b"b#Code:uri", b"c"]).as_deref(), Some("Code"));
        // "a, b:uri" -> "a, b".
        assert_eq!(code(&[b"a", b"b:uri"]), None);
        // "a, ns#" -> "".
        assert_eq!(code(&[b"a", b"ns#"]), None);
    }
}
