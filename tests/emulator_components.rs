//! Inference components in the emulator: scale to zero, scale out on the
//! first call that finds no copy, scale in when idle; how endpoints with and
//! without components route. In-process on tokio's paused clock, and served
//! over loopback TCP.
#![cfg(feature = "emulator")]

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use tokio::time::{sleep, Instant};
use tower::ServiceExt;
use tower_sagemaker::emulator::{
    ComponentSpec, ComponentStats, Emulator, Fault, FaultScope, ModelSpec,
};
use tower_sagemaker::sagemaker::{NO_CAPACITY_MESSAGE, SCALE_OUT_TIME};
use tower_sagemaker::ErrorCode;

const COMPONENT: &str = "x-amzn-sagemaker-inference-component";
const TARGET: &str = "x-amzn-sagemaker-target-model";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A CSV call to `endpoint` with these headers.
fn call_to(endpoint: &str, headers: &[(&str, &str)], body: &str) -> Request<Full<Bytes>> {
    let mut b = Request::post(format!("/endpoints/{endpoint}/invocations"))
        .header("content-type", "text/csv");
    for (name, value) in headers {
        b = b.header(*name, *value);
    }
    b.body(Full::new(Bytes::from(body.to_owned()))).unwrap()
}

fn component(name: &str) -> Request<Full<Bytes>> {
    call_to("demo", &[(COMPONENT, name)], "1.0,2.0,5.0")
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn code(&self) -> String {
        ErrorCode::from_headers(&self.headers)
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default()
    }

    /// The message of a 400 `ValidationError`, checked as the emulator's
    /// other errors are.
    fn validation_error(&self) -> String {
        assert_eq!(
            (self.status, self.code().as_str()),
            (StatusCode::BAD_REQUEST, "ValidationError")
        );
        assert!(self.headers["x-amzn-errortype"]
            .to_str()
            .unwrap()
            .starts_with("ValidationError:http://internal.amazon.com/coral/"));
        assert_eq!(self.headers["content-type"], "application/json");
        let v: serde_json::Value = serde_json::from_slice(&self.body).unwrap();
        v["message"].as_str().unwrap().to_owned()
    }
}

async fn call(emu: &Emulator, req: Request<Full<Bytes>>) -> Answer {
    let res = emu.clone().oneshot(req).await.expect("service error");
    let (parts, body) = res.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

fn stats(emu: &Emulator, name: &str) -> (u64, u64, u64, u64) {
    let ComponentStats {
        invocations,
        no_capacity,
        scale_outs,
        scale_ins,
    } = emu.component_stats(name).unwrap();
    (invocations, no_capacity, scale_outs, scale_ins)
}

#[tokio::test(start_paused = true)]
async fn scaled_to_zero_scales_out_on_the_first_call_serves_then_scales_in() {
    let latency = Duration::from_millis(10);
    let emu = Emulator::builder()
        .inference_component("llm", ComponentSpec::new().latency(latency))
        .unwrap()
        .build();
    assert_eq!(emu.component_copies("llm"), Some(0));

    // No copy: 400 with the service's message; the first failure starts the scale-out.
    let a = call(&emu, component("llm")).await;
    assert_eq!(a.validation_error(), NO_CAPACITY_MESSAGE);
    assert_eq!(stats(&emu, "llm"), (0, 1, 1, 0));

    // During the scale-out: the same 400, and no second scale-out.
    sleep(SCALE_OUT_TIME - secs(1)).await;
    let a = call(&emu, component("llm")).await;
    assert_eq!(a.validation_error(), NO_CAPACITY_MESSAGE);
    assert_eq!(stats(&emu, "llm"), (0, 2, 1, 0));
    assert_eq!(emu.component_copies("llm"), Some(0));

    // After it: one copy, the deterministic inference, after its latency.
    sleep(secs(1)).await;
    assert_eq!(emu.component_copies("llm"), Some(1));
    let start = Instant::now();
    let a = call(&emu, component("llm")).await;
    assert_eq!(start.elapsed(), latency);
    assert_eq!(a.status, 200);
    assert_eq!(a.body, "8.0");
    assert_eq!(a.headers["content-type"], "text/csv");
    assert_eq!(a.headers["x-amzn-invoked-production-variant"], "AllTraffic");
    let json = call_to(
        "demo",
        &[(COMPONENT, "llm"), ("accept", "application/json")],
        "1,2\n3",
    );
    assert_eq!(call(&emu, json).await.body, r#"{"predictions":[3.0,3.0]}"#);
    let bad = call(&emu, call_to("demo", &[(COMPONENT, "llm")], "1,x")).await;
    assert_eq!(
        (bad.status.as_u16(), bad.code().as_str()),
        (424, "ModelError")
    );
    assert_eq!(stats(&emu, "llm"), (3, 2, 1, 0));

    // A call within the idle time keeps the copy; the idle time runs from its end.
    sleep(ComponentSpec::DEFAULT_IDLE_TIME - secs(1)).await;
    assert_eq!(call(&emu, component("llm")).await.status, 200);
    sleep(ComponentSpec::DEFAULT_IDLE_TIME - secs(1)).await;
    assert_eq!(emu.component_copies("llm"), Some(1));

    // Idle long enough: back to zero, and the next call starts another scale-out.
    sleep(secs(1)).await;
    assert_eq!(emu.component_copies("llm"), Some(0));
    assert_eq!(stats(&emu, "llm"), (4, 2, 1, 1));
    let a = call(&emu, component("llm")).await;
    assert_eq!(a.validation_error(), NO_CAPACITY_MESSAGE);
    assert_eq!(stats(&emu, "llm"), (4, 3, 2, 1));
    sleep(SCALE_OUT_TIME).await;
    assert_eq!(call(&emu, component("llm")).await.status, 200);
}

#[tokio::test(start_paused = true)]
async fn copies_at_start_serve_at_once_and_a_busy_copy_does_not_scale_in() {
    let emu = Emulator::builder()
        .inference_component(
            "warm",
            ComponentSpec::new()
                .copies(2)
                .idle_time(secs(60))
                .latency(secs(90))
                .scale_out_time(Duration::from_millis(300)),
        )
        .unwrap()
        .build();
    assert_eq!(emu.component_copies("warm"), Some(2));
    // A call of 90 s outlives the 60 s idle time: no scale-in while it runs.
    let busy = tokio::spawn({
        let emu = emu.clone();
        async move { call(&emu, component("warm")).await.status }
    });
    sleep(secs(89)).await;
    assert_eq!(emu.component_copies("warm"), Some(2));
    assert_eq!(busy.await.unwrap(), 200);
    sleep(secs(59)).await;
    assert_eq!(emu.component_copies("warm"), Some(2));
    sleep(secs(1)).await;
    assert_eq!(emu.component_copies("warm"), Some(0));
    assert_eq!(stats(&emu, "warm"), (1, 0, 0, 1));
    // Looked at long after: the scale-out and the scale-in each happened when due.
    assert_eq!(call(&emu, component("warm")).await.status, 400);
    sleep(secs(3600)).await;
    assert_eq!(stats(&emu, "warm"), (1, 1, 1, 2));
}

#[tokio::test(start_paused = true)]
async fn endpoints_with_and_without_components_answer_as_the_service() {
    let emu = Emulator::builder()
        .endpoint("demo")
        .model("fast", ModelSpec::new(Duration::ZERO))
        .inference_component("ic", ComponentSpec::new().copies(1).endpoint("ics"))
        .unwrap()
        .inference_component("other", ComponentSpec::new().copies(1).endpoint("ics-2"))
        .unwrap()
        .build();
    assert_eq!(emu.endpoints(), ["demo", "ics", "ics-2"]);
    let message = |a: Answer| a.validation_error();

    // The multi-model endpoint still serves its models...
    let a = call(&emu, call_to("demo", &[(TARGET, "fast")], "1,2")).await;
    assert_eq!((a.status.as_u16(), &a.body[..]), (200, &b"3.0"[..]));
    // ...and refuses a component header, with or without a target model.
    let not_allowed = "Inference Component Name header is not allowed for endpoints to which you dont plan to deploy inference components. Please remove the Inference Component Name header and try again.";
    for headers in [
        &[(COMPONENT, "ic")][..],
        &[(TARGET, "fast"), (COMPONENT, "ic")],
    ] {
        assert_eq!(
            message(call(&emu, call_to("demo", headers, "1")).await),
            not_allowed
        );
    }

    // The endpoint hosting components serves them...
    let a = call(&emu, call_to("ics", &[(COMPONENT, "ic")], "1,2")).await;
    assert_eq!((a.status.as_u16(), &a.body[..]), (200, &b"3.0"[..]));
    // ...and needs the component header, even with a target model.
    let required = "Inference Component Name header is required for endpoints to which you plan to deploy inference components. Please include Inference Component Name header or consider using SageMaker models.";
    for headers in [&[][..], &[(TARGET, "fast")]] {
        assert_eq!(
            message(call(&emu, call_to("ics", headers, "1")).await),
            required
        );
    }
    // Both headers: it is not a multi-model endpoint.
    let both = call_to("ics", &[(TARGET, "fast"), (COMPONENT, "ic")], "1");
    assert_eq!(
        message(call(&emu, both).await),
        "Endpoint ics is not a multi-model endpoint and does not support target model header."
    );
    // A component it does not host, here or on another endpoint.
    for name in ["nope", "other"] {
        assert_eq!(
            message(call(&emu, call_to("ics", &[(COMPONENT, name)], "1")).await),
            format!("Could not find inference component {name} on endpoint ics of account 123456789012.")
        );
    }
    // A name the service refuses, checked first wherever it is sent.
    for endpoint in ["ics", "demo"] {
        let m = message(
            call(
                &emu,
                call_to(endpoint, &[(COMPONENT, "bad_name"), (TARGET, "fast")], "1"),
            )
            .await,
        );
        assert!(
            m.starts_with(
                "1 validation error detected: Value 'bad_name' at 'inferenceComponentName'"
            ),
            "{m}"
        );
    }
    assert_eq!(stats(&emu, "ic"), (1, 0, 0, 0));
    assert_eq!(stats(&emu, "other"), (0, 0, 0, 0));
    assert!(emu.component_stats("nope").is_none());
    assert_eq!(emu.stats("fast").unwrap().invocations, 1);
}

#[tokio::test(start_paused = true)]
async fn faults_of_any_scope_reach_components_model_scoped_ones_do_not() {
    let emu = Emulator::builder()
        .inference_component("fast", ComponentSpec::new().copies(1))
        .unwrap()
        .build();
    emu.inject(
        Fault::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "ServiceUnavailable".into(),
            message: "injected".into(),
        },
        FaultScope::Model("fast".into()),
        1,
    );
    assert_eq!(call(&emu, component("fast")).await.status, 200);
    emu.clear_faults();
    emu.inject(Fault::DropConnection, FaultScope::Any, 1);
    assert!(emu.clone().oneshot(component("fast")).await.is_err());
    assert_eq!(stats(&emu, "fast"), (1, 0, 0, 0));
}

#[test]
fn the_builder_refuses_names_the_service_refuses() {
    for bad in ["", "bad_name", "-lead", "trail-", "a.b", &"a".repeat(64)] {
        let err = Emulator::builder()
            .inference_component(bad, ComponentSpec::new())
            .unwrap_err();
        assert_eq!(err.name(), bad);
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "invalid inference component name {bad:?}: 1 to 63 letters and digits"
            )),
            "{text}"
        );
        assert!(
            text.contains(r"^[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?$"),
            "{text}"
        );
    }
    for good in ["a", "a--b-9", &"a".repeat(63)] {
        assert!(Emulator::builder()
            .inference_component(good, ComponentSpec::new())
            .is_ok());
    }
}

// ---- Served over HTTP/1.1 (real clock: network I/O) ----

#[tokio::test]
async fn served_a_component_at_zero_answers_400_then_serves_after_the_scale_out() {
    use aws_credential_types::Credentials;
    use aws_sdk_sagemakerruntime::config::{BehaviorVersion, Region};
    use aws_sdk_sagemakerruntime::error::ProvideErrorMetadata;
    use aws_sdk_sagemakerruntime::primitives::Blob;

    let scale_out = Duration::from_millis(300);
    let emu = Emulator::builder()
        .inference_component("llm", ComponentSpec::new().scale_out_time(scale_out))
        .unwrap()
        .inference_component("cold", ComponentSpec::new())
        .unwrap()
        .build();
    let server = emu.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = server.endpoint_url();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let invoke = || {
        Request::post(format!("{url}/endpoints/demo/invocations"))
            .header("content-type", "text/csv")
            .header(COMPONENT, "llm")
            .body(Full::new(Bytes::from("1.0,2.0,5.0")))
            .unwrap()
    };

    // The first call finds no copy, whenever it comes, and starts the scale-out.
    let res = client.request(invoke()).await.unwrap();
    let (parts, body) = res.into_parts();
    let a = Answer {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    };
    assert_eq!(a.validation_error(), NO_CAPACITY_MESSAGE);

    // The AWS SDK for Rust reads it as the service's ValidationError (on a
    // component whose scale-out takes minutes, so that timing does not matter).
    let config = aws_sdk_sagemakerruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&url)
        .credentials_provider(Credentials::new("AKID", "secret", None, None, "test"))
        .build();
    let sdk = aws_sdk_sagemakerruntime::Client::from_conf(config);
    let err = sdk
        .invoke_endpoint()
        .endpoint_name("demo")
        .inference_component_name("cold")
        .content_type("text/csv")
        .body(Blob::new("1.0,2.0,5.0"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationError"), "{err:?}");
    assert_eq!(err.message(), Some(NO_CAPACITY_MESSAGE));

    tokio::time::sleep(scale_out + Duration::from_millis(50)).await;
    let res = client.request(invoke()).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "8.0");
    let out = sdk
        .invoke_endpoint()
        .endpoint_name("demo")
        .inference_component_name("llm")
        .content_type("text/csv")
        .body(Blob::new("1,2"))
        .send()
        .await
        .expect("served after the scale-out");
    assert_eq!(out.body().unwrap().as_ref(), b"3.0");
    assert_eq!(stats(&emu, "llm"), (2, 1, 1, 0));
    assert_eq!(stats(&emu, "cold"), (0, 1, 1, 0));
    server.shutdown().await;
}
