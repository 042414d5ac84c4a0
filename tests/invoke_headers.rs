//! `InvokeHeadersLayer`, and the emulator's checks of the same headers.
#![cfg(all(feature = "invoke-headers", feature = "emulator"))]

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
use tower_sagemaker::emulator::{Emulator, ModelSpec};
use tower_sagemaker::invoke_headers::{InvokeHeader, InvokeHeaders, InvokeHeadersLayer};
use tower_sagemaker::sagemaker::{
    check_invoke_header, CUSTOM_ATTRIBUTES_HEADER, INFERENCE_ID_HEADER, SESSION_ID_HEADER,
    TARGET_VARIANT_HEADER,
};

type Req = http::Request<Full<Bytes>>;

/// The headers the service beneath receives.
async fn sent(layer: InvokeHeadersLayer, req: Req) -> HeaderMap {
    let echo = service_fn(|req: Req| async move { Ok::<_, BoxError>(req.headers().clone()) });
    ServiceBuilder::new()
        .layer(layer)
        .service(echo)
        .oneshot(req)
        .await
        .unwrap()
}

fn variant(v: &str) -> InvokeHeader {
    InvokeHeader::target_variant(v).unwrap()
}

#[tokio::test]
async fn the_request_beats_the_layer_and_a_header_already_set_beats_both() {
    let layer = InvokeHeadersLayer::new(
        InvokeHeaders::new()
            .with(variant("blue"))
            .with(InvokeHeader::inference_id("default-id").unwrap()),
    );

    // Defaults alone.
    let headers = sent(layer.clone(), http::Request::new(Full::default())).await;
    assert_eq!(headers[TARGET_VARIANT_HEADER], "blue");
    assert_eq!(headers[INFERENCE_ID_HEADER], "default-id");

    // The request's own extension first, defaults for the rest.
    let mut req = http::Request::new(Full::default());
    req.extensions_mut()
        .insert(InvokeHeaders::new().with(variant("green")));
    let headers = sent(layer.clone(), req).await;
    assert_eq!(headers[TARGET_VARIANT_HEADER], "green");
    assert_eq!(headers[INFERENCE_ID_HEADER], "default-id");

    // A header already on the request is kept, once.
    let req = http::Request::builder()
        .header(TARGET_VARIANT_HEADER, "red")
        .body(Full::default())
        .unwrap();
    let headers = sent(layer, req).await;
    assert_eq!(headers.get_all(TARGET_VARIANT_HEADER).iter().count(), 1);
    assert_eq!(headers[TARGET_VARIANT_HEADER], "red");

    // The request's extension stays for the services beneath.
    let beneath = service_fn(|req: Req| async move {
        Ok::<_, BoxError>(req.extensions().get::<InvokeHeaders>().cloned())
    });
    let mut req = http::Request::new(Full::default());
    let own = InvokeHeaders::new().with(variant("green"));
    req.extensions_mut().insert(own.clone());
    let seen = ServiceBuilder::new()
        .layer(InvokeHeadersLayer::per_request())
        .service(beneath)
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(seen, Some(own));

    // Per request only: nothing without an extension.
    let headers = sent(
        InvokeHeadersLayer::per_request(),
        http::Request::new(Full::default()),
    )
    .await;
    assert!(headers.is_empty());
}

#[tokio::test]
async fn custom_attributes_are_sent_marked_sensitive() {
    let mut req = http::Request::new(Full::default());
    req.extensions_mut()
        .insert(InvokeHeaders::new().with(InvokeHeader::custom_attributes("tenant=42").unwrap()));
    let headers = sent(InvokeHeadersLayer::per_request(), req).await;
    assert_eq!(headers[CUSTOM_ATTRIBUTES_HEADER], "tenant=42");
    assert!(headers[CUSTOM_ATTRIBUTES_HEADER].is_sensitive());
}

/// The emulator's answer to a call with `headers`: status, code, message.
async fn emulated(headers: &[(&http::HeaderName, &[u8])]) -> (StatusCode, String, String) {
    let emulator = Emulator::builder()
        .model("m", ModelSpec::new(std::time::Duration::ZERO))
        .build();
    let mut req = http::Request::post("/endpoints/demo/invocations")
        .header("x-amzn-sagemaker-target-model", "m")
        .body(Full::new(Bytes::from("1,2")))
        .unwrap();
    for (name, value) in headers {
        req.headers_mut().insert(
            (*name).clone(),
            http::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    let res = emulator.oneshot(req).await.unwrap();
    let status = res.status();
    let code = res
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().split(':').next().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_default();
    (status, code, message)
}

#[tokio::test]
async fn the_emulator_checks_the_headers_as_the_service_does() {
    // Valid values go through.
    let (status, _, _) = emulated(&[
        (&TARGET_VARIANT_HEADER, b"AllTraffic"),
        (&INFERENCE_ID_HEADER, b"order 1234"),
        (&SESSION_ID_HEADER, b"NEW_SESSION"),
        (&CUSTOM_ATTRIBUTES_HEADER, b"tenant=42;\tregion=eu"),
    ])
    .await;
    assert_eq!(status, 200);

    // A variant the endpoint does not have.
    let (status, code, message) = emulated(&[(&TARGET_VARIANT_HEADER, b"blue")]).await;
    assert_eq!((status.as_u16(), code.as_str()), (400, "ValidationError"));
    assert!(message.contains("blue"), "{message}");

    // An inference id longer than allowed.
    let long = "i".repeat(65);
    let (status, code, message) = emulated(&[(&INFERENCE_ID_HEADER, long.as_bytes())]).await;
    assert_eq!((status.as_u16(), code.as_str()), (400, "ValidationError"));
    assert!(
        message.contains("inferenceId") && message.contains("64"),
        "{message}"
    );

    // A malformed session id.
    let (status, _, message) = emulated(&[(&SESSION_ID_HEADER, b"two words")]).await;
    assert_eq!(status, 400);
    assert!(message.contains("sessionId"), "{message}");

    // Custom attributes that break the rule: refused, and never echoed.
    let (status, _, message) = emulated(&[(&CUSTOM_ATTRIBUTES_HEADER, b"secret\xff-value")]).await;
    assert_eq!(status, 400);
    assert!(message.contains("customAttributes"), "{message}");
    assert!(!message.contains("secret"), "{message}");
}

/// A value with a space at either end would reach the service trimmed (HTTP
/// removes such spaces): refused before it is sent.
#[test]
fn values_that_http_would_trim_are_refused() {
    for (made, what) in [
        (
            InvokeHeader::inference_id("order-1 "),
            "inference id, trailing",
        ),
        (
            InvokeHeader::enable_explanations("   "),
            "explanations, blank",
        ),
        (
            InvokeHeader::enable_explanations(" `true`"),
            "explanations, leading",
        ),
        (
            InvokeHeader::custom_attributes("a=1 "),
            "custom attributes, trailing",
        ),
    ] {
        let err = made.unwrap_err();
        assert!(
            err.to_string().contains("no space or tab at either end"),
            "{what}: {err}"
        );
    }
    for (name, value) in [(CONTENT_TYPE, " text/csv"), (ACCEPT, "application/json ")] {
        assert!(
            check_invoke_header(&name, value).is_err(),
            "{name}: {value:?}"
        );
    }
    let err = InvokeHeader::custom_attributes("a=1\t").unwrap_err();
    assert!(
        err.to_string().contains("no space or tab at either end"),
        "{err}"
    );
    // Inner spaces go through as they are, and a tab in custom attributes
    // (the service takes any ASCII; HTTP carries a tab, not other controls).
    assert!(InvokeHeader::inference_id("order 1").is_ok());
    assert!(InvokeHeader::custom_attributes("a=1;\tb=2").is_ok());
    assert!(InvokeHeader::custom_attributes("a=1;\u{7}b=2").is_err());
    assert!(InvokeHeader::inference_id("order\t1").is_err());
    assert!(check_invoke_header(&CONTENT_TYPE, "text/csv; charset=utf-8").is_ok());
}
