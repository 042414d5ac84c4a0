//! AWS SDK calls that wait minutes in `ColdStartsHttpClient` for another
//! call's probe (coalescing, an inference component scaling out for 6
//! minutes): what the SDK prepares before an attempt's wait (the signature
//! and its time, the session credentials, the time the request is sent, from
//! which it estimates the clock skew) must not go out stale after it. The
//! attempt that waited is made again, signed anew.
//!
//! In memory, on tokio's paused clock, with the SDK's clock following it;
//! the fake endpoint checks what AWS checks: a request must reach it within
//! five minutes of its time stamp, and a session token before it expires.
#![cfg(all(feature = "aws-sdk-sagemakerruntime", feature = "scale-from-zero"))]

mod support;

use aws_credential_types::provider::{future, ProvideCredentials};
use aws_sdk_sagemakerruntime::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sagemakerruntime::error::ProvideErrorMetadata;
use aws_sdk_sagemakerruntime::{primitives::Blob, Client};
use aws_smithy_async::time::TimeSource;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_types::{
    body::SdkBody,
    date_time::{DateTime, Format},
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;
use tower_sagemaker::aws_sdk::{MultiModelEndpoint, MultiModelEndpointExt};
use tower_sagemaker::retry::{ColdStarts, LegacyRetries};
use tower_sagemaker::sagemaker::NO_CAPACITY_MESSAGE;

use support::sdk::{InMemory, PausedClock};

const AWS_WINDOW: u64 = 5 * 60; // "must reach AWS within five minutes of the time stamp"
const SCALE_OUT: Duration = Duration::from_secs(6 * 60); // "several minutes", < 600 s budget

/// A component with no capacity until `ready`; checks what AWS checks (signature
/// age if `check_age`, token expiry) and sends `Date`. Records (status, X-Amz-Date - arrival).
#[derive(Debug)]
struct Endpoint {
    clock: PausedClock,
    ready: Instant,
    check_age: bool,
    seen: Mutex<Vec<(u16, i64)>>,
}

fn secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

impl Endpoint {
    fn answer(&self, req: &HttpRequest) -> HttpResponse {
        let now = self.clock.now();
        let d = req.headers().get("x-amz-date").unwrap(); // 20250101T000000Z
        let iso = format!(
            "{}-{}-{}T{}:{}:{}Z",
            &d[..4],
            &d[4..6],
            &d[6..8],
            &d[9..11],
            &d[11..13],
            &d[13..15]
        );
        let skew = DateTime::from_str(&iso, Format::DateTime).unwrap().secs() - secs(now);
        let token_expired = req
            .headers()
            .get("x-amz-security-token")
            .and_then(|t| t.strip_prefix("exp-"))
            .is_some_and(|e| e.parse::<i64>().unwrap() <= secs(now));
        let (status, code, message) = if self.check_age && skew.unsigned_abs() > AWS_WINDOW {
            (403, "InvalidSignatureException", "Signature expired")
        } else if token_expired {
            (
                403,
                "ExpiredTokenException",
                "The security token included in the request is expired",
            )
        } else if Instant::now() < self.ready {
            (400, "ValidationError", NO_CAPACITY_MESSAGE)
        } else {
            (200, "", "")
        };
        self.seen.lock().unwrap().push((status, skew));
        let body = match status {
            200 => "8.0".into(),
            _ => serde_json::json!({ "message": message }).to_string(),
        };
        let mut res = HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body));
        res.headers_mut()
            .insert("date", DateTime::from(now).fmt(Format::HttpDate).unwrap());
        if status != 200 {
            res.headers_mut().insert("x-amzn-errortype", code);
        }
        res
    }
}

/// Session credentials valid for 2 minutes from issue (AssumeRole, IMDS, SSO expire too).
#[derive(Debug)]
struct Expiring(PausedClock);

impl ProvideCredentials for Expiring {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let exp = secs(self.0.now()) + 120;
        let expiry = UNIX_EPOCH + Duration::from_secs(exp as u64);
        future::ProvideCredentials::ready(Ok(Credentials::new(
            "AKID",
            "SECRET",
            Some(format!("exp-{exp}")),
            Some(expiry),
            "t",
        )))
    }
}

/// `n` coalescing calls to a component that scales out for 6 minutes; their results.
async fn run(
    check_age: bool,
    expiring: bool,
    n: usize,
) -> (Client, Arc<Endpoint>, Vec<Result<(), String>>) {
    let clock = PausedClock::new();
    let ep = Arc::new(Endpoint {
        clock,
        ready: Instant::now() + SCALE_OUT,
        check_age,
        seen: Mutex::default(),
    });
    let retries = LegacyRetries::new()
        .scale_from_zero()
        .coalesce_cold_starts(ColdStarts::new());
    let builder = aws_sdk_sagemakerruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .time_source(clock)
        .region(Region::new("us-east-1"))
        .endpoint_url("http://fake.invalid")
        .http_client(InMemory::new({
            let ep = ep.clone();
            move |req| ep.answer(req)
        }));
    let builder = match expiring {
        true => builder.credentials_provider(Expiring(clock)),
        false => builder.credentials_provider(Credentials::new("AKID", "SECRET", None, None, "t")),
    };
    let client = Client::from_conf(
        builder
            .multi_model_endpoint_with(MultiModelEndpoint::new().retries(retries))
            .build(),
    );
    let tasks: Vec<_> = (0..n).map(|_| tokio::spawn(call(client.clone()))).collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    eprintln!(
        "seen (status, X-Amz-Date - arrival in s), last 4: {:?}",
        ep.seen
            .lock()
            .unwrap()
            .iter()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
    );
    eprintln!("results: {results:?}");
    (client, ep, results)
}

async fn call(client: Client) -> Result<(), String> {
    let out = client
        .invoke_endpoint()
        .endpoint_name("demo")
        .inference_component_name("ic-llama")
        .content_type("text/csv")
        .body(Blob::new("1.0,2.0,5.0"))
        .send()
        .await;
    out.map(|_| ())
        .map_err(|e| format!("{}: {}", e.code().unwrap_or("?"), e.message().unwrap_or("")))
}
/// A signature made before a 6-minute wait would be refused: the attempt
/// that waited goes out signed anew.
#[tokio::test(start_paused = true)]
async fn a_call_that_waited_is_signed_anew() {
    let (_, _, results) = run(true, false, 3).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}
/// Session credentials valid for 2 minutes expire during the wait: the
/// attempt that waited resolves them again.
#[tokio::test(start_paused = true)]
async fn a_call_that_waited_gets_fresh_credentials() {
    let (_, _, results) = run(false, true, 3).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}
/// The SDK estimates the clock skew from when a request was sent and the
/// response's `Date`: sent after the wait, the estimate stays right, and a
/// later call is signed on time.
#[tokio::test(start_paused = true)]
async fn a_call_that_waited_leaves_the_clock_skew_alone() {
    let (client, ep, results) = run(false, false, 3).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    call(client)
        .await
        .expect("a later call, which does not wait");
    let (status, skew) = *ep.seen.lock().unwrap().last().unwrap();
    assert!(
        status == 200 && skew.abs() <= 1,
        "the later call is signed {skew} s off the clock"
    );
}
