//! Which errors are a connection failing, closing or breaking: botocore's
//! "connection errors", retried in legacy mode.

use std::error::Error as StdError;

use super::{AttemptTimedOut, RetryReason};
use crate::collect_body::BodyReadFailed;
use crate::read_timeout::ReadTimedOut;

/// Recognisers of transport errors (a connection that failed, closed or
/// broke), by error type. `std::io::Error` is what every client built on std
/// sockets reports; hyper reports its own connection-level errors.
const TRANSPORT_ERRORS: &[fn(&(dyn StdError + 'static)) -> bool] = &[
    |err| err.is::<std::io::Error>(),
    #[cfg(feature = "hyper")]
    super::hyper_errors::is_transport,
];

/// Recognisers of a connection the server reset or closed under a request
/// before any response came: what a pooled keep-alive connection that the
/// server closed just before reuse looks like (not a failure to connect).
const RESET_CONNECTIONS: &[fn(&(dyn StdError + 'static)) -> bool] = &[
    |err| {
        err.downcast_ref::<std::io::Error>().is_some_and(|e| {
            use std::io::ErrorKind::*;
            matches!(
                e.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
            )
        })
    },
    #[cfg(feature = "hyper")]
    super::hyper_errors::is_reset_connection,
];

/// Whether `error`, anywhere in its source chain, is a connection reset or
/// closed under the request (see [`RESET_CONNECTIONS`]).
pub(super) fn is_reset_connection(error: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(err) = next {
        if RESET_CONNECTIONS.iter().any(|is_reset| is_reset(err)) {
            return true;
        }
        next = err.source();
    }
    false
}

/// botocore's legacy rule for an error: connection-level failures and timeouts,
/// anywhere in the source chain.
pub(super) fn legacy_error_reason(error: &(dyn StdError + 'static)) -> Option<RetryReason> {
    let mut next = Some(error);
    while let Some(err) = next {
        if err.is::<AttemptTimedOut>() {
            return Some(RetryReason::AttemptTimeout);
        }
        if err.is::<ReadTimedOut>() {
            return Some(RetryReason::ReadTimeout);
        }
        if err.is::<BodyReadFailed>() {
            return Some(RetryReason::BodyRead);
        }
        if TRANSPORT_ERRORS
            .iter()
            .any(|is_transport| is_transport(err))
        {
            return Some(RetryReason::Transport);
        }
        next = err.source();
    }
    None
}
