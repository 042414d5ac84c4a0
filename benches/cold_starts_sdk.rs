//! N `aws-sdk-sagemakerruntime` callers on one cold model, with and without
//! cold-start coalescing: `cargo bench --all-features --bench cold_starts_sdk`.
//!
//! The same scenario as `benches/cold_starts.rs` (in-process emulator, load
//! 150 s, hold 60 s, latency 5 ms, tokio's paused clock), with real SDK
//! clients set up by `MultiModelEndpoint` (legacy retries, 5 attempts,
//! 360 s operation timeout, 70 s per attempt). The clients' HTTP client is an
//! in-process adapter that hands each signed request to the emulator's tower
//! service: over loopback sockets the paused clock would jump ahead while a
//! request sits in the kernel, so the figures would not be what the clock
//! says. Each row is the worst of `RUNS` runs for requests and 429s.
//! The program exits non-zero when the coalescing targets are missed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sagemakerruntime::config::{
    BehaviorVersion, Credentials, Region, StalledStreamProtectionConfig,
};
use aws_sdk_sagemakerruntime::primitives::Blob;
use aws_sdk_sagemakerruntime::Client;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt;
use tokio::time::Instant;
use tower::ServiceExt;
use tower_sagemaker::aws_sdk::{MultiModelEndpoint, MultiModelEndpointExt};
use tower_sagemaker::emulator::{Emulator, ModelSpec};
use tower_sagemaker::retry::{ColdStarts, LegacyRetries};
use tower_sagemaker::target_model::TargetModel;

mod cold_start_run;

use cold_start_run::{callers, percentile, Run};

const MODEL: &str = "model-1.tar.gz";
const LOAD: Duration = Duration::from_secs(150);
const LATENCY: Duration = Duration::from_millis(5);
const RUNS: usize = 3;

/// The emulator as the SDK's HTTP client, in process; counts requests.
#[derive(Debug, Clone)]
struct InProcess {
    emulator: Emulator,
    requests: Arc<AtomicU64>,
}

impl HttpConnector for InProcess {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let emulator = self.emulator.clone();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?;
            let response = emulator
                .oneshot(request)
                .await
                .map_err(|e| ConnectorError::io(e.into()))?;
            let (parts, body) = response.into_parts();
            let bytes = body
                .collect()
                .await
                .map_err(|e| ConnectorError::io(e.into()))?
                .to_bytes();
            let response = http::Response::from_parts(parts, SdkBody::from(bytes));
            HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

impl HttpClient for InProcess {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

async fn run(n: usize, coalesce: bool) -> Run {
    let emulator = Emulator::builder()
        .endpoint("demo")
        .model(MODEL, ModelSpec::new(LOAD).latency(LATENCY))
        .build();
    let requests = Arc::new(AtomicU64::new(0));
    let http = InProcess {
        emulator: emulator.clone(),
        requests: requests.clone(),
    };
    let mut retries = LegacyRetries::new();
    if coalesce {
        retries = retries.coalesce_cold_starts(ColdStarts::new());
    }
    let config = aws_sdk_sagemakerruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url("http://runtime.sagemaker.local")
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "bench"))
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .http_client(http)
        .multi_model_endpoint_with(
            MultiModelEndpoint::new()
                .target_model(TargetModel::new(MODEL).expect("model"))
                .retries(retries),
        )
        .build();
    let client = Client::from_conf(config);

    let call = || {
        let client = client.clone();
        async move {
            let res = client
                .invoke_endpoint()
                .endpoint_name("demo")
                .content_type("text/csv")
                .body(Blob::new("1,2"))
                .send()
                .await;
            res.is_ok()
        }
    };
    let (after_load, failed) = callers(n, call, Instant::now() + LOAD).await;
    Run {
        requests: requests.load(Ordering::Relaxed),
        not_ready: emulator.stats(MODEL).map_or(0, |s| s.not_ready),
        after_load,
        failed,
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    let sizes: Vec<usize> = match std::env::var("COLD_STARTS_SDK_N") {
        Ok(v) => v.split(',').filter_map(|n| n.trim().parse().ok()).collect(),
        Err(_) => vec![10, 100, 1_000],
    };
    println!(
        "N aws-sdk-sagemakerruntime callers at once on one cold model: load {} s, hold 60 s, \
         latency {} ms; requests and 429s: worst of {RUNS} runs; times after load: median run",
        LOAD.as_secs(),
        LATENCY.as_millis()
    );
    println!();
    println!("| N | mode | requests | 429s | p50 after load | p99 after load | failed |");
    println!("|---:|---|---:|---:|---:|---:|---:|");
    let mut missed = Vec::new();
    for callers in sizes {
        let mut failed = [0; 2];
        for (i, coalesce) in [false, true].into_iter().enumerate() {
            let runs: Vec<Run> = (0..RUNS)
                .map(|_| rt.block_on(run(callers, coalesce)))
                .collect();
            let requests = runs.iter().map(|r| r.requests).max().unwrap_or(0);
            let not_ready = runs.iter().map(|r| r.not_ready).max().unwrap_or(0);
            let median = |f: &dyn Fn(&Run) -> Duration| {
                let mut v: Vec<Duration> = runs.iter().map(f).collect();
                v.sort();
                v[v.len() / 2]
            };
            let p50 = median(&|r| percentile(&r.after_load, 50.0));
            let p99 = median(&|r| percentile(&r.after_load, 99.0));
            failed[i] = runs.iter().map(|r| r.failed).sum::<usize>();
            let mode = match coalesce {
                false => "SDK, legacy retries",
                true => "SDK, coalesced",
            };
            println!(
                "| {callers} | {mode} | {requests} | {not_ready} | {:.1} ms | {:.1} ms | {} |",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3,
                failed[i],
            );
            if coalesce && requests > callers as u64 + 10 {
                missed.push(format!("N = {callers}: {requests} requests > N + 10"));
            }
        }
        if failed[1] > failed[0] {
            missed.push(format!(
                "N = {callers}: more callers failed with coalescing"
            ));
        }
    }
    println!();
    if missed.is_empty() {
        println!("targets met: requests <= N + 10, no more failures with coalescing");
    } else {
        for m in &missed {
            println!("target missed: {m}");
        }
        std::process::exit(1);
    }
}
