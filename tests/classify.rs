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
        "throttlingexception",
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
    assert_eq!(
        c.classify_response(status(400), &headers("TooManyRequestsException")),
        None
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
        c.classify_response(status(424), &headers("ModelError")),
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
