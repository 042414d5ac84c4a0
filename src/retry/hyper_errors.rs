//! hyper's connection-level errors, which hyper-based clients (hyper-util's
//! legacy client, reqwest) return without an `std::io::Error` beneath them.

use std::error::Error as StdError;

/// Whether `err` is a `hyper::Error` that botocore would call a connection
/// error: the connection closed (also before the response was complete), the
/// request was canceled because the connection went away, a hyper timeout
/// fired, or writing the request body was aborted.
pub(super) fn is_transport(err: &(dyn StdError + 'static)) -> bool {
    err.downcast_ref::<hyper::Error>().is_some_and(|e| {
        e.is_closed()
            || e.is_incomplete_message()
            || e.is_canceled()
            || e.is_timeout()
            || e.is_body_write_aborted()
    })
}

/// Whether `err` is a `hyper::Error` for a connection closed under the
/// request before the response was complete.
pub(super) fn is_reset_connection(err: &(dyn StdError + 'static)) -> bool {
    err.downcast_ref::<hyper::Error>()
        .is_some_and(|e| e.is_incomplete_message() || e.is_closed())
}
