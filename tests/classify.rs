//! `RetryClassifier`: botocore's legacy conditions and the additions, by
//! status, error code and error.
#![cfg(feature = "retry")]

use std::error::Error as StdError;
use std::fmt;

use http::{HeaderMap, StatusCode};
use tower_sagemaker::retry::{AttemptTimedOut, RetryClassifier, RetryReason};
use tower_sagemaker::sagemaker::ERROR_TYPE_HEADER;

fn headers(code: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(ERROR_TYPE_HEADER, code.parse().unwrap());
    h
}

fn status(s: u16) -> StatusCode {
    StatusCode::from_u16(s).unwrap()
}

#[test]
fn legacy_statuses() {
    let c = RetryClassifier::legacy();
    let none = HeaderMap::new();
    assert_eq!(
        c.classify_response(status(429), &headers("ModelNotReadyException")),
        Some(RetryReason::ModelNotReady)
    );
    assert_eq!(
        c.classify_response(status(429), &headers("ThrottlingException")),
        Some(RetryReason::TooManyRequests)
    );
    assert_eq!(
        c.classify_response(status(429), &none),
        Some(RetryReason::TooManyRequests)
    );
    for s in [500, 502, 503, 504, 509] {
        assert_eq!(
            c.classify_response(status(s), &none),
            Some(RetryReason::ServerError(status(s))),
            "{s}"
        );
    }
    for s in [200, 201, 400, 401, 403, 404, 413, 424, 501, 505, 530] {
        assert_eq!(c.classify_response(status(s), &none), None, "{s}");
    }
    assert_eq!(
        c.classify_response(status(424), &headers("ModelError")),
        None
    );
    assert_eq!(
        c.classify_response(status(400), &headers("ValidationError")),
        None
    );
    assert_eq!(
        c.classify_response(status(530), &headers("InternalDependencyException")),
        None
    );
}

#[test]
fn legacy_throttling_codes_on_400_only() {
    let c = RetryClassifier::legacy();
    for code in [
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "ThrottlingException:http://internal.amazon.com/x",
        "com.amazon.coral#ThrottlingException",
    ] {
        assert_eq!(
            c.classify_response(status(400), &headers(code)),
            Some(RetryReason::Throttling),
            "{code}"
        );
        assert_eq!(
            c.classify_response(status(403), &headers(code)),
            None,
            "{code}"
        );
    }
    // Compared exactly, untrimmed, as botocore compares.
    for code in [
        "TooManyRequestsException",
        "throttlingexception",
        "requestthrottledexception",
        "THROTTLING",
        "ThrottlingException :http://internal.amazon.com/x",
        "ns# ThrottlingException",
        "ThrottlingException\t",
    ] {
        assert_eq!(
            c.classify_response(status(400), &headers(code)),
            None,
            "{code:?}"
        );
    }
    // The namespace's bytes do not matter.
    let mut h = HeaderMap::new();
    h.insert(
        ERROR_TYPE_HEADER,
        http::HeaderValue::from_bytes(b"\xff\xfe#RequestThrottledException").unwrap(),
    );
    assert_eq!(
        c.classify_response(status(400), &h),
        Some(RetryReason::Throttling)
    );
}

#[test]
fn additions() {
    let c = RetryClassifier::legacy()
        .retry_status(status(530))
        .retry_error_code("ModelError")
        .retry_response_if(|s, _| s == StatusCode::IM_A_TEAPOT)
        .retry_error_if(|e| e.to_string().contains("flaky"));
    let none = HeaderMap::new();
    assert_eq!(
        c.classify_response(status(530), &none),
        Some(RetryReason::ExtraStatus(status(530)))
    );
    assert_eq!(
        c.classify_response(status(424), &headers("ns#ModelError:uri")),
        Some(RetryReason::ExtraErrorCode)
    );
    // Codes compare exactly, as botocore compares them.
    assert_eq!(
        c.classify_response(status(424), &headers("modelerror")),
        None
    );
    assert_eq!(
        c.classify_response(status(200), &headers("ModelError")),
        None
    );
    assert_eq!(
        c.classify_response(status(418), &none),
        Some(RetryReason::Predicate)
    );
    let flaky: Box<dyn StdError> = "flaky thing".into();
    let other: Box<dyn StdError> = "other thing".into();
    assert_eq!(c.classify_error(&*flaky), Some(RetryReason::Predicate));
    assert_eq!(c.classify_error(&*other), None);
    assert!(format!("{c:?}").contains("response_predicate: true"));
}

#[derive(Debug)]
struct Wrapper(std::io::Error);
impl fmt::Display for Wrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("client error")
    }
}
impl StdError for Wrapper {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn errors() {
    let c = RetryClassifier::legacy();
    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    assert_eq!(c.classify_error(&refused), Some(RetryReason::Transport));
    let wrapped = Wrapper(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
    assert_eq!(c.classify_error(&wrapped), Some(RetryReason::Transport));
    let timeout = AttemptTimedOut::new(std::time::Duration::from_secs(70), 1);
    assert_eq!(
        c.classify_error(&timeout),
        Some(RetryReason::AttemptTimeout)
    );
    let other: Box<dyn StdError> = "bad request signing".into();
    assert_eq!(c.classify_error(&*other), None);
}

/// The error hyper's HTTP/1 client returns when the server answers `response`.
#[cfg(feature = "hyper")]
async fn answered(response: &'static [u8]) -> hyper::Error {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

/// botocore meets a malformed response head as a `ConnectionClosedError`,
/// which legacy mode retries; hyper reports a parse error.
#[cfg(feature = "hyper")]
#[tokio::test]
async fn a_malformed_response_head_is_a_transport_error() {
    let c = RetryClassifier::legacy();
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
        assert_eq!(
            c.classify_error(&err),
            Some(RetryReason::Transport),
            "{err:?}"
        );
    }
    // A connection closed before any response.
    let err = answered(b"").await;
    assert_eq!(
        c.classify_error(&err),
        Some(RetryReason::Transport),
        "{err:?}"
    );
}

#[test]
fn scale_from_zero_retries_the_no_capacity_answer_alone() {
    use tower_sagemaker::retry::NoCapacity;
    use tower_sagemaker::sagemaker::NO_CAPACITY_MESSAGE;

    let on = RetryClassifier::legacy().scale_from_zero();
    let off = RetryClassifier::legacy();
    assert!(on.get_scale_from_zero() && !off.get_scale_from_zero());
    let validation =
        headers("ValidationError:http://internal.amazon.com/coral/com.amazon.sagemaker/");
    let message = Some(NO_CAPACITY_MESSAGE);
    assert_eq!(
        on.classify_error_response(status(400), &validation, message),
        Some(RetryReason::NoCapacity)
    );
    // The first sentence is what is compared; the advice after it may change.
    let first = "Inference Component has no capacity to process this request.";
    assert_eq!(
        on.classify_error_response(status(400), &validation, Some(first)),
        Some(RetryReason::NoCapacity)
    );
    assert_eq!(
        off.classify_error_response(status(400), &validation, message),
        None
    );
    // The head alone never shows it.
    assert_eq!(on.classify_response(status(400), &validation), None);
    for (s, code, message) in [
        (
            400,
            "ValidationError",
            Some("Endpoint demo of account 123456789012 not found."),
        ),
        (400, "ValidationError", None),
        (400, "validationerror", message),
        (400, "ModelError", message),
        (424, "ValidationError", message),
        (
            400,
            "ValidationError",
            Some("inference component has no capacity to process this request."),
        ),
    ] {
        assert_eq!(
            on.classify_error_response(status(s), &headers(code), message),
            None,
            "{s} {code} {message:?}"
        );
    }
    // The mark NoCapacityLayer puts on a response.
    let mut res = http::Response::builder().status(400).body(()).unwrap();
    res.headers_mut().extend(validation.clone());
    assert_eq!(on.classify_http_response(&res), None);
    res.extensions_mut().insert(NoCapacity::new());
    assert_eq!(
        on.classify_http_response(&res),
        Some(RetryReason::NoCapacity)
    );
    assert_eq!(off.classify_http_response(&res), None);
    // Legacy rules are unchanged under the opt-in.
    let throttled = http::Response::builder().status(429).body(()).unwrap();
    assert_eq!(
        on.classify_http_response(&throttled),
        Some(RetryReason::TooManyRequests)
    );
}
