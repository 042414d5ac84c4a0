//! Reading a request body: up to the service's payload limit, within the
//! body timeout, in the memory that all bodies in progress share.
//!
//! A quarter of that memory is kept for the first 64 KiB of each body, so
//! small requests are admitted while big uploads (stalled ones too) hold the
//! rest. A body over the limit is read to its end and dropped before the 413
//! goes out: a server that closes a socket with unread bytes in it resets the
//! connection, and the reset can destroy the answer before the client reads it.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, EXPECT};
use http::request::Parts;
use http::StatusCode;
use http_body::Body;
use http_body_util::BodyExt;
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower::BoxError;

use super::answer::{ErrorAnswer, Outcome};
use crate::error_code::ErrorCode;
use crate::sagemaker::MAX_PAYLOAD_BYTES;

/// The bytes of a body that count as small: each body takes its first
/// `SMALL_BODY` bytes from the reserve.
const SMALL_BODY: usize = 64 * 1024;

/// The memory, in bytes, that the bodies of all requests in progress share:
/// a reserve (a quarter) for the first [`SMALL_BODY`] bytes of each body,
/// and a pool for the rest.
#[derive(Debug)]
pub(super) struct BodyBudget {
    reserve: Arc<Semaphore>,
    pool: Arc<Semaphore>,
    /// What one body takes from the reserve at most.
    small: usize,
}

impl BodyBudget {
    pub(super) fn new(bytes: usize) -> Self {
        let bytes = bytes.min(Semaphore::MAX_PERMITS);
        let reserve = bytes / 4;
        Self {
            reserve: Arc::new(Semaphore::new(reserve)),
            pool: Arc::new(Semaphore::new(bytes - reserve)),
            small: SMALL_BODY.min(reserve),
        }
    }

    /// Grows `share` by `bytes`, from the reserve while it is within its
    /// first `small` bytes, then from the pool.
    async fn grow(&self, share: &mut Share, bytes: usize) -> Result<(), AcquireError> {
        let from_reserve = bytes.min(self.small.saturating_sub(share.bytes));
        for (semaphore, n, held) in [
            (&self.reserve, from_reserve, &mut share.reserve),
            (&self.pool, bytes - from_reserve, &mut share.pool),
        ] {
            if n == 0 {
                continue;
            }
            // At most MAX_PAYLOAD_BYTES, so it fits.
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            let permit = semaphore.clone().acquire_many_owned(n).await?;
            match held {
                Some(held) => held.merge(permit),
                None => *held = Some(permit),
            }
        }
        share.bytes += bytes;
        Ok(())
    }
}

/// The memory one body holds; given back when dropped.
#[derive(Debug, Default)]
struct Share {
    bytes: usize,
    reserve: Option<OwnedSemaphorePermit>,
    pool: Option<OwnedSemaphorePermit>,
}

/// A body read whole, and the share of the budget it holds until dropped.
pub(super) struct ReadBody {
    pub(super) bytes: Bytes,
    _memory: Share,
}

/// Why a body was not read.
pub(super) enum Refused {
    /// The service's answer: 413 (too large), 408 (too slow), 503 (no memory).
    Answer(ErrorAnswer),
    /// The body could not be read (the client broke the framing, say).
    Unreadable(io::Error),
}

impl From<ErrorAnswer> for Refused {
    fn from(answer: ErrorAnswer) -> Self {
        Refused::Answer(answer)
    }
}

impl From<Refused> for Outcome {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Answer(answer) => answer.into(),
            Refused::Unreadable(e) => Outcome::Unreadable(e),
        }
    }
}

/// Reads the whole body, up to the service's payload limit, within `timeout`
/// and the shared `budget`.
pub(super) async fn read<B>(
    parts: &Parts,
    body: B,
    timeout: Duration,
    budget: &BodyBudget,
) -> Result<ReadBody, Refused>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let until = crate::timer::after(Instant::now(), timeout);
    let mut body = std::pin::pin!(body);
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_PAYLOAD_BYTES as u64) {
        // A client that waits for `100 Continue` sends nothing more.
        let waits = parts
            .headers
            .get(EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if !waits {
            drain(body, until).await;
        }
        return Err(too_large().into());
    }
    let mut data = BytesMut::new();
    let mut memory = Share::default();
    loop {
        let frame = match tokio::time::timeout_at(until, body.as_mut().frame()).await {
            Err(_) => return Err(timed_out(timeout).into()),
            Ok(None) => break,
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(e))) => {
                return Err(Refused::Unreadable(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("emulator could not read the request body: {}", e.into()),
                )))
            }
        };
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        if data.len() + chunk.len() > MAX_PAYLOAD_BYTES {
            // The memory goes back before the rest is drained.
            drop((data, memory));
            drain(body, until).await;
            return Err(too_large().into());
        }
        if chunk.is_empty() {
            continue;
        }
        match tokio::time::timeout_at(until, budget.grow(&mut memory, chunk.len())).await {
            Ok(Ok(())) => {}
            Err(_) | Ok(Err(_)) => return Err(no_memory().into()),
        }
        data.extend_from_slice(&chunk);
    }
    Ok(ReadBody {
        bytes: data.freeze(),
        _memory: memory,
    })
}

/// Reads and drops the rest of `body`, until its end or `until`.
async fn drain<B>(mut body: std::pin::Pin<&mut B>, until: Instant)
where
    B: Body<Data = Bytes>,
{
    let rest = async { while let Some(Ok(_)) = body.as_mut().frame().await {} };
    let _ = tokio::time::timeout_at(until, rest).await;
}

fn too_large() -> ErrorAnswer {
    ErrorAnswer::raw(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::VALIDATION_ERROR.as_str(),
        format!(
            "Received payload of size greater than the maximum allowed payload size of {MAX_PAYLOAD_BYTES} bytes."
        ),
    )
}

fn timed_out(timeout: Duration) -> ErrorAnswer {
    ErrorAnswer::raw(
        StatusCode::REQUEST_TIMEOUT,
        "RequestTimeoutException",
        format!(
            "The request body was not received within {} s.",
            timeout.as_secs_f64()
        ),
    )
}

fn no_memory() -> ErrorAnswer {
    ErrorAnswer::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::SERVICE_UNAVAILABLE,
        "The emulator's memory for request bodies is in use by other requests; try again.",
    )
}
