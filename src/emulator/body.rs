//! Reading a request body: up to the service's payload limit, within the
//! body timeout, in the memory that all bodies in progress share.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::CONTENT_LENGTH;
use http::request::Parts;
use http::StatusCode;
use http_body::Body;
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower::BoxError;

use super::answer::{ErrorAnswer, Outcome};
use crate::error_code::ErrorCode;
use crate::sagemaker::MAX_PAYLOAD_BYTES;

/// The memory, in bytes, that the bodies of all requests in progress share.
#[derive(Debug)]
pub(super) struct BodyBudget(Arc<Semaphore>);

impl BodyBudget {
    pub(super) fn new(bytes: usize) -> Self {
        Self(Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS))))
    }
}

/// A body read whole, and the share of the budget it holds until dropped.
pub(super) struct ReadBody {
    pub(super) bytes: Bytes,
    _memory: Option<OwnedSemaphorePermit>,
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
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_PAYLOAD_BYTES as u64) {
        return Err(too_large().into());
    }
    let until = Instant::now() + timeout;
    let mut body = std::pin::pin!(body);
    let mut data = BytesMut::new();
    let mut held: Option<OwnedSemaphorePermit> = None;
    loop {
        let frame = match tokio::time::timeout_at(until, body.frame()).await {
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
            return Err(too_large().into());
        }
        if chunk.is_empty() {
            continue;
        }
        // At most MAX_PAYLOAD_BYTES, so it fits.
        let bytes = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
        let memory = budget.0.clone().acquire_many_owned(bytes);
        let permit = match tokio::time::timeout_at(until, memory).await {
            Ok(Ok(permit)) => permit,
            Err(_) | Ok(Err(_)) => return Err(no_memory().into()),
        };
        match &mut held {
            Some(held) => held.merge(permit),
            None => held = Some(permit),
        }
        data.extend_from_slice(&chunk);
    }
    Ok(ReadBody {
        bytes: data.freeze(),
        _memory: held,
    })
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
