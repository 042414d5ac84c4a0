//! The emulator's log lines. In its own test binary: tracing caches callsite
//! interest process-wide, so a scoped subscriber must not race other tests.
#![cfg(feature = "emulator")]

use bytes::Bytes;
use http_body_util::Full;
use tower::ServiceExt;
use tower_sagemaker::emulator::Emulator;

mod support;

#[tokio::test]
async fn a_405_is_logged_as_an_error_with_its_code() {
    let (_guard, logs) = support::capture_logs(tracing::Level::DEBUG);

    let req = http::Request::get("/endpoints/demo/invocations")
        .body(Full::<Bytes>::default())
        .unwrap();
    let res = Emulator::builder().build().oneshot(req).await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");

    let logs = logs.text();
    let line = logs
        .lines()
        .find(|l| l.contains("status=405"))
        .unwrap_or_else(|| panic!("no 405 line: {logs}"));
    assert!(line.contains("answered an error"), "{line}");
    assert!(line.contains("code=UnknownOperationException"), "{line}");
}
