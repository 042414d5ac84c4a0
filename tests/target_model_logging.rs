//! `TargetModelLayer` with a target-model header already on the request. In
//! its own test binary: tracing caches callsite interest process-wide, so a
//! scoped subscriber must not race other tests' threads.
#![cfg(feature = "target-model")]

use bytes::Bytes;
use http::HeaderValue;
use http_body_util::Full;
use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
use tower_sagemaker::sagemaker::TARGET_MODEL_HEADER;
use tower_sagemaker::target_model::{TargetModel, TargetModelLayer};

mod support;

/// What the service beneath receives in the header (all values), and what was logged.
async fn sent(
    layer: TargetModelLayer,
    header: Option<&[u8]>,
    extension: Option<&str>,
) -> (Vec<Vec<u8>>, String) {
    let (_guard, logs) = support::capture_logs(tracing::Level::INFO);

    let echo = service_fn(|req: http::Request<Full<Bytes>>| async move {
        let values = req
            .headers()
            .get_all(TARGET_MODEL_HEADER)
            .iter()
            .map(|v| v.as_bytes().to_vec())
            .collect::<Vec<_>>();
        Ok::<_, BoxError>(values)
    });
    let mut req = http::Request::new(Full::default());
    if let Some(header) = header {
        req.headers_mut().append(
            TARGET_MODEL_HEADER,
            HeaderValue::from_bytes(header).unwrap(),
        );
    }
    if let Some(model) = extension {
        req.extensions_mut()
            .insert(TargetModel::new(model).unwrap());
    }
    let values = ServiceBuilder::new()
        .layer(layer)
        .service(echo)
        .oneshot(req)
        .await
        .unwrap();
    (values, logs.text())
}

fn default_layer() -> TargetModelLayer {
    TargetModelLayer::new(TargetModel::new("default.tar.gz").unwrap())
}

#[tokio::test]
async fn a_valid_header_of_the_request_stands_without_a_warning() {
    let (values, logs) = sent(default_layer(), Some(b"mine.tar.gz"), Some("ext.tar.gz")).await;
    assert_eq!(values, [b"mine.tar.gz".to_vec()]);
    assert!(!logs.contains("WARN"), "{logs}");
}

#[tokio::test]
async fn an_invalid_header_gives_way_to_the_extension_with_a_warning() {
    let (values, logs) = sent(default_layer(), Some(b"caf\xe9.tar.gz"), Some("ext.tar.gz")).await;
    assert_eq!(values, [b"ext.tar.gz".to_vec()]);
    assert!(
        logs.contains("WARN") && logs.contains("replacing"),
        "{logs}"
    );
    assert!(logs.contains("not UTF-8"), "{logs}");
    assert!(!logs.contains("caf"), "the value is not logged: {logs}");
}

#[tokio::test]
async fn an_invalid_header_gives_way_to_the_layer_default() {
    let (values, logs) = sent(default_layer(), Some(b" leading-space"), None).await;
    assert_eq!(values, [b"default.tar.gz".to_vec()]);
    assert!(logs.contains("starts with a space"), "{logs}");
}

#[tokio::test]
async fn an_invalid_header_with_nothing_to_replace_it_is_sent_with_a_warning() {
    let (values, logs) = sent(TargetModelLayer::per_request(), Some(b"caf\xe9"), None).await;
    assert_eq!(values, [b"caf\xe9".to_vec()]);
    assert!(
        logs.contains("WARN") && logs.contains("sending an invalid"),
        "{logs}"
    );
}
