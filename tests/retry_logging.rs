//! In its own test binary: tracing caches callsite interest process-wide, so
//! a scoped subscriber must not race other tests' threads.
#![cfg(feature = "retry")]

mod common;
mod support;

use common::*;
use tower::{ServiceBuilder, ServiceExt};
use tower_sagemaker::retry::ModelNotReadyRetryLayer;

#[tokio::test(start_paused = true)]
async fn retry_events_are_logged_without_bodies_or_secrets() {
    let (_guard, logs) = support::capture_logs(tracing::Level::INFO);

    let endpoint = Scripted::new([
        error_code(429, "ModelNotReadyException"),
        Step::Io(std::io::ErrorKind::ConnectionReset),
    ]);
    let svc = ServiceBuilder::new()
        .layer(ModelNotReadyRetryLayer::legacy())
        .service(endpoint.clone());
    let mut req = request("secret-payload-1234");
    req.headers_mut().insert(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDSECRET".parse().unwrap(),
    );
    req.headers_mut().insert(
        "x-amzn-sagemaker-custom-attributes",
        "c000b4f9-df62-4c85".parse().unwrap(),
    );
    svc.oneshot(req).await.unwrap();

    let logs = logs.text();
    let lines: Vec<_> = logs
        .lines()
        .filter(|l| l.contains("retrying SageMaker call"))
        .collect();
    assert_eq!(lines.len(), 2, "{logs}");
    assert!(
        lines[0].contains("attempt=1")
            && lines[0].contains("status 429")
            && lines[0].contains("delay_ms="),
        "{logs}"
    );
    assert!(
        lines[1].contains("attempt=2") && lines[1].contains("transport"),
        "{logs}"
    );
    for secret in ["secret-payload-1234", "AKIDSECRET", "c000b4f9", "body of"] {
        assert!(!logs.contains(secret), "log leaks {secret}: {logs}");
    }
}
