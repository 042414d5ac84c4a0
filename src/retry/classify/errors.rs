//! The errors of a source chain that botocore's legacy mode retries, and
//! the connection resets among them.

use std::error::Error as StdError;

use http::StatusCode;

use super::RetryReason;
use crate::error_code::ErrorCode;
use crate::retry::AttemptTimedOut;
use crate::sagemaker::NO_CAPACITY_MESSAGE;

/// In a response's extensions: its body carries the service's no-capacity
/// message (an inference component with no copy). `NoCapacityLayer` (module
/// `scale_from_zero`, feature `scale-from-zero`) reads the body's first bytes
/// and puts it there; with
/// [`RetryClassifier::scale_from_zero`](super::RetryClassifier::scale_from_zero),
/// such a 400 `ValidationError` is retried as [`RetryReason::NoCapacity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct NoCapacity;

impl NoCapacity {
    /// The marker.
    pub const fn new() -> Self {
        Self
    }
}

/// In a response's extensions: reading its error body within the attempt
/// failed (the connection broke, or a read timed out), so the response
/// carries the bytes read before the failure, then the failure. botocore
/// reads an error body inside its retry loop and retries such a failure
/// as a connection error: [`RetryClassifier::legacy`](super::RetryClassifier::legacy)
/// retries the response as [`RetryReason::BodyRead`]. `NoCapacityLayer`
/// (module `scale_from_zero`) puts it on a 400 `ValidationError` whose body
/// it could not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ErrorBodyReadFailed;

impl ErrorBodyReadFailed {
    /// The marker.
    pub const fn new() -> Self {
        Self
    }
}

/// Whether a response head may be the no-capacity answer: HTTP 400 and the
/// code `ValidationError` (compared exactly); its message decides.
pub(crate) fn is_no_capacity_head(status: StatusCode, code: Option<ErrorCode<'_>>) -> bool {
    status == StatusCode::BAD_REQUEST && code == Some(ErrorCode::VALIDATION_ERROR)
}

/// Whether `message`, the message of a 400 `ValidationError`, is the
/// service's answer for an inference component with no copy: it opens with
/// the first sentence of [`NO_CAPACITY_MESSAGE`]. The advice that follows is
/// not compared, so a rewording of it does not stop the retries; a
/// `ValidationError` for any other reason never matches.
pub(crate) fn is_no_capacity_message(message: &str) -> bool {
    let first = NO_CAPACITY_MESSAGE
        .split_once(". ")
        .map_or(NO_CAPACITY_MESSAGE, |(sentence, _)| sentence);
    message
        .strip_prefix(first)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// Whether a whole restJson1 error body carries the no-capacity message in
/// `message` or `Message`, where botocore reads an error's message.
#[cfg(feature = "scale-from-zero")]
pub(crate) fn is_no_capacity_body(body: &[u8]) -> bool {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(body) else {
        return false;
    };
    fields
        .get("message")
        .or_else(|| fields.get("Message"))
        .and_then(serde_json::Value::as_str)
        .is_some_and(is_no_capacity_message)
}

/// botocore's legacy rule for one error of a source chain: the one place
/// that knows the errors of the crate's other layers and of the transports.
/// `std::io::Error` is what every client built on std sockets reports; hyper
/// reports its own connection-level errors.
pub(super) fn known_reason(err: &(dyn StdError + 'static)) -> Option<RetryReason> {
    if err.is::<AttemptTimedOut>() {
        return Some(RetryReason::AttemptTimeout);
    }
    #[cfg(feature = "read-timeout")]
    if err.is::<crate::read_timeout::ReadTimedOut>() {
        return Some(RetryReason::ReadTimeout);
    }
    #[cfg(feature = "collect-body")]
    if err.is::<crate::collect_body::BodyReadFailed>() {
        return Some(RetryReason::BodyRead);
    }
    if err.is::<std::io::Error>() {
        return Some(RetryReason::Transport);
    }
    // What botocore calls a connection error: the connection closed (also
    // before the response was complete), a malformed response (botocore's
    // `ConnectionClosedError`), the request canceled because the connection
    // went away, a hyper timeout, or writing the request body aborted.
    // reqwest's own timeouts (the client's `timeout`, `read_timeout`,
    // `connect_timeout`) carry no I/O error beneath; botocore retries its
    // read and connect timeouts.
    #[cfg(feature = "reqwest")]
    if err
        .downcast_ref::<::reqwest::Error>()
        .is_some_and(|e| e.is_timeout() || e.is_connect())
    {
        return Some(RetryReason::Transport);
    }
    #[cfg(feature = "hyper")]
    if err.downcast_ref::<hyper::Error>().is_some_and(|e| {
        e.is_closed()
            || e.is_incomplete_message()
            || e.is_parse()
            || e.is_canceled()
            || e.is_timeout()
            || e.is_body_write_aborted()
    }) {
        return Some(RetryReason::Transport);
    }
    None
}

/// Whether one error of a source chain is a connection the server reset or
/// closed under the request before any response came: what a pooled
/// keep-alive connection that the server closed just before reuse looks like
/// (not a failure to connect).
pub(super) fn is_reset(err: &(dyn StdError + 'static)) -> bool {
    use std::io::ErrorKind::*;
    if let Some(e) = err.downcast_ref::<std::io::Error>() {
        return matches!(
            e.kind(),
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
        );
    }
    #[cfg(feature = "hyper")]
    if let Some(e) = err.downcast_ref::<hyper::Error>() {
        return e.is_incomplete_message() || e.is_closed();
    }
    false
}
