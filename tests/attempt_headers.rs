//! `amz-sdk-invocation-id` and `amz-sdk-request`, as the retry layer sends
//! them on every attempt (botocore and the AWS SDKs send the same).
#![cfg(feature = "retry")]

mod common;

use common::*;
use tower::{ServiceBuilder, ServiceExt};
use tower_sagemaker::retry::{LegacyRetries, ModelNotReadyRetryLayer};
use tower_sagemaker::sagemaker::{INVOCATION_ID_HEADER, SDK_REQUEST_HEADER};

async fn call(retries: LegacyRetries, req: Req, steps: Vec<Step>) -> Vec<Call> {
    let endpoint = Scripted::new(steps);
    ServiceBuilder::new()
        .layer(ModelNotReadyRetryLayer::new(retries))
        .service(endpoint.clone())
        .oneshot(req)
        .await
        .unwrap();
    endpoint.calls()
}

fn header(call: &Call, name: &http::HeaderName) -> Option<String> {
    let value = call.headers.get(name)?;
    Some(value.to_str().unwrap().to_owned())
}

/// A version 4 UUID as the SDKs write it: 8-4-4-4-12 lower-case hex digits.
fn is_uuid_v4(id: &str) -> bool {
    let groups: Vec<_> = id.split('-').collect();
    let lengths: Vec<_> = groups.iter().map(|g| g.len()).collect();
    lengths == [8, 4, 4, 4, 12]
        && id
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
        && groups[2].starts_with('4')
        && groups[3].starts_with(['8', '9', 'a', 'b'])
}

#[tokio::test(start_paused = true)]
async fn every_attempt_says_which_it_is_under_one_invocation_id() {
    let steps = vec![
        error_code(429, "ModelNotReadyException"),
        respond(503),
        respond(200),
    ];
    let calls = call(LegacyRetries::new(), request("1"), steps).await;
    let attempts: Vec<_> = calls
        .iter()
        .map(|c| header(c, &SDK_REQUEST_HEADER))
        .collect();
    assert_eq!(
        attempts,
        [
            Some("attempt=1; max=5".to_owned()),
            Some("attempt=2; max=5".to_owned()),
            Some("attempt=3; max=5".to_owned()),
        ]
    );
    let ids: Vec<_> = calls
        .iter()
        .map(|c| header(c, &INVOCATION_ID_HEADER).unwrap())
        .collect();
    assert!(is_uuid_v4(&ids[0]), "{ids:?}");
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(
        calls[0]
            .headers
            .get_all(&INVOCATION_ID_HEADER)
            .iter()
            .count(),
        1
    );

    // Another call, another id; `max` follows `max_retries`.
    let calls = call(LegacyRetries::new().max_retries(2), request("1"), vec![]).await;
    let other = header(&calls[0], &INVOCATION_ID_HEADER).unwrap();
    assert!(is_uuid_v4(&other) && other != ids[0], "{other} {ids:?}");
    assert_eq!(
        header(&calls[0], &SDK_REQUEST_HEADER).as_deref(),
        Some("attempt=1; max=3")
    );
}

#[tokio::test(start_paused = true)]
async fn a_callers_own_invocation_id_is_kept_and_the_headers_can_be_turned_off() {
    let mut req = request("1");
    req.headers_mut()
        .insert(INVOCATION_ID_HEADER, "my-own-id".parse().unwrap());
    let calls = call(LegacyRetries::new(), req, vec![respond(500), respond(200)]).await;
    for c in &calls {
        assert_eq!(
            header(c, &INVOCATION_ID_HEADER).as_deref(),
            Some("my-own-id")
        );
    }

    let off = LegacyRetries::new().attempt_headers(false);
    let calls = call(off, request("1"), vec![respond(500), respond(200)]).await;
    assert_eq!(calls.len(), 2);
    for c in &calls {
        assert_eq!(header(c, &INVOCATION_ID_HEADER), None);
        assert_eq!(header(c, &SDK_REQUEST_HEADER), None);
    }
}

/// Beneath the retry layer, `SigV4Layer` signs both headers on every attempt.
#[cfg(feature = "sigv4")]
#[tokio::test(start_paused = true)]
async fn sigv4_beneath_signs_them() {
    use aws_credential_types::Credentials;
    use tower_sagemaker::sigv4::SigV4Layer;

    let endpoint = Scripted::new([respond(503), respond(200)]);
    ServiceBuilder::new()
        .layer(ModelNotReadyRetryLayer::new(LegacyRetries::new()))
        .layer(SigV4Layer::new(
            Credentials::new("AKID", "SECRET", None, None, "test"),
            "us-east-1",
        ))
        .service(endpoint.clone())
        .oneshot(request("1"))
        .await
        .unwrap();
    let calls = endpoint.calls();
    assert_eq!(calls.len(), 2);
    for c in &calls {
        let auth = header(c, &http::header::AUTHORIZATION).unwrap();
        let signed = auth
            .split("SignedHeaders=")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap();
        let signed: Vec<_> = signed.split(';').collect();
        assert!(signed.contains(&"amz-sdk-invocation-id"), "{auth}");
        assert!(signed.contains(&"amz-sdk-request"), "{auth}");
    }
}
