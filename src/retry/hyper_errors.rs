//! hyper's connection-level errors, which hyper-based clients (hyper-util's
//! legacy client, reqwest) return without an `std::io::Error` beneath them.

use std::error::Error as StdError;

/// Whether `err` is a `hyper::Error` that botocore would call a connection
/// error: the connection closed (also before the response was complete), the
/// request was canceled because the connection went away, a hyper timeout
/// fired, writing the request body was aborted, or the response head was
/// malformed (a status line that is not HTTP/1.x, an invalid status code, too
/// many or too large header fields: botocore's urllib3 stack raises these as
/// a `ConnectionClosedError`, which legacy mode retries).
pub(super) fn is_transport(err: &(dyn StdError + 'static)) -> bool {
    err.downcast_ref::<hyper::Error>().is_some_and(|e| {
        e.is_closed()
            || e.is_incomplete_message()
            || e.is_canceled()
            || e.is_timeout()
            || e.is_body_write_aborted()
            || e.is_parse()
    })
}

/// Whether `err` is a `hyper::Error` for a connection closed under the
/// request before the response was complete.
pub(super) fn is_reset_connection(err: &(dyn StdError + 'static)) -> bool {
    err.downcast_ref::<hyper::Error>()
        .is_some_and(|e| e.is_incomplete_message() || e.is_closed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The error hyper's HTTP/1 client returns when the server answers `response`.
    async fn answered(response: &'static [u8]) -> hyper::Error {
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(client))
                .await
                .unwrap();
        tokio::spawn(conn);
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let _ = server.read(&mut buf).await;
            let _ = server.write_all(response).await;
            let _ = server.shutdown().await;
        });
        let request = http::Request::get("/")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        sender.send_request(request).await.unwrap_err()
    }

    #[tokio::test]
    async fn a_malformed_response_head_is_a_transport_error() {
        let mut too_many_headers = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..150 {
            too_many_headers.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
        }
        too_many_headers.extend_from_slice(b"\r\n");
        let too_many_headers: &'static [u8] = too_many_headers.leak();
        for response in [
            &b"HTTP/2.0 200 OK\r\n\r\n"[..],
            b"ICY 200 OK\r\n\r\n",
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            too_many_headers,
        ] {
            let err = answered(response).await;
            assert!(err.is_parse(), "{err:?}");
            assert!(is_transport(&err), "{err:?}");
            assert!(!is_reset_connection(&err), "{err:?}");
        }
        // A connection closed before any response stays a reset connection.
        let err = answered(b"").await;
        assert!(is_transport(&err) && is_reset_connection(&err), "{err:?}");
    }
}
