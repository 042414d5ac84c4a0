//! Every public error prints its message with `Debug` too: that is what
//! `fn main() -> Result<(), BoxError>` shows when it returns one.
#![cfg(all(
    feature = "retry",
    feature = "target-model",
    feature = "deadline",
    feature = "read-timeout",
    feature = "collect-body",
))]

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
use tower_sagemaker::collect_body::CollectBodyLayer;
use tower_sagemaker::deadline::DeadlineLayer;
use tower_sagemaker::read_timeout::ReadTimeoutLayer;
use tower_sagemaker::retry::{LegacyRetries, ModelNotReadyRetryLayer};
use tower_sagemaker::target_model::TargetModel;

/// `Debug` of the boxed error holds its `Display` and names its type.
fn check(err: BoxError, type_name: &str) {
    let debug = format!("{err:?}");
    assert!(debug.contains(&err.to_string()), "{debug}");
    assert!(debug.starts_with(type_name), "{debug}");
}

#[tokio::test(start_paused = true)]
async fn public_errors_show_their_message_in_debug() {
    check(
        TargetModel::new("").unwrap_err().into(),
        "InvalidTargetModel",
    );
    assert_eq!(
        format!("{:?}", TargetModel::new("").unwrap_err()),
        "InvalidTargetModel(\"invalid target model: it is empty (1 to 1024 bytes are required)\")"
    );

    let hang = service_fn(|_req: http::Request<()>| async {
        std::future::pending::<Result<http::Response<Full<Bytes>>, BoxError>>().await
    });
    let err = ServiceBuilder::new()
        .layer(DeadlineLayer::new(Duration::from_secs(1)))
        .service(hang)
        .oneshot(http::Request::new(()))
        .await
        .unwrap_err();
    check(err, "DeadlineExceeded");

    let err = ServiceBuilder::new()
        .layer(
            ModelNotReadyRetryLayer::new(LegacyRetries::new().max_retries(0))
                .attempt_timeout(Duration::from_secs(1)),
        )
        .service(hang)
        .oneshot(http::Request::new(()))
        .await
        .unwrap_err();
    check(err, "AttemptTimedOut");

    let err = ServiceBuilder::new()
        .layer(ReadTimeoutLayer::new(Duration::from_secs(1)))
        .service(hang)
        .oneshot(http::Request::new(()))
        .await
        .unwrap_err();
    check(err, "ReadTimedOut");

    let big = service_fn(|_req: http::Request<()>| async {
        Ok::<_, BoxError>(http::Response::new(Full::new(Bytes::from("0123456789"))))
    });
    let err = ServiceBuilder::new()
        .layer(CollectBodyLayer::new(4))
        .service(big)
        .oneshot(http::Request::new(()))
        .await
        .unwrap_err();
    check(err, "BodyTooLarge");
}

#[cfg(feature = "sigv4")]
#[tokio::test]
async fn signing_errors_show_their_message_in_debug() {
    use aws_credential_types::Credentials;
    use tower_sagemaker::sigv4::SigV4Layer;
    let echo = service_fn(|req: http::Request<Full<Bytes>>| async move {
        Ok::<_, BoxError>(http::Response::new(req.into_body()))
    });
    let err = ServiceBuilder::new()
        .layer(SigV4Layer::new(
            Credentials::new("AKID", "SECRET", None, None, "test"),
            "us-east-1",
        ))
        .service(echo)
        .oneshot(http::Request::new(Full::new(Bytes::new())))
        .await
        .unwrap_err();
    check(err, "SigningError");
}
