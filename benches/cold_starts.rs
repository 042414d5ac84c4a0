//! N callers on one cold model, with and without cold-start coalescing:
//! `cargo bench --bench cold_starts`.
//!
//! Runs on tokio's paused clock against the in-process emulator (load 150 s,
//! hold 60 s), so the minutes of a cold start take a moment and each run is
//! exactly what the clock says. Every caller goes through
//! `DeadlineLayer` (360 s) and `ModelNotReadyRetryLayer` (legacy, 5
//! attempts), with or without `coalesce_cold_starts`, or tower's
//! `RetryLayer` with `LegacyRetryPolicy::coalesce_cold_starts`. Each row is
//! the worst of `RUNS` runs for requests and 429s, the median run for times.
//! The program checks the layer's targets and exits non-zero when one is
//! missed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use tokio::time::Instant;
use tower::util::{BoxCloneService, Either};
use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
use tower_sagemaker::deadline::DeadlineLayer;
use tower_sagemaker::emulator::{Emulator, ModelSpec};
use tower_sagemaker::retry::{
    ColdStarts, LegacyRetries, LegacyRetryPolicy, ModelNotReadyRetryLayer,
};

mod cold_start_run;

use cold_start_run::{callers, percentile, Run};

const MODEL: &str = "model-1.tar.gz";
const LOAD: Duration = Duration::from_secs(150);
const LATENCY: Duration = Duration::from_millis(5);
const RUNS: usize = 5;

/// What one run of N callers measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Legacy,
    Coalesced,
    CoalescedPolicy,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Legacy => "legacy (layer)",
            Mode::Coalesced => "coalesced (layer)",
            Mode::CoalescedPolicy => "coalesced (`LegacyRetryPolicy`)",
        }
    }
}

async fn run(n: usize, mode: Mode) -> Run {
    let emulator = Emulator::builder()
        .model(MODEL, ModelSpec::new(LOAD).latency(LATENCY))
        .build();
    let requests = Arc::new(AtomicU64::new(0));
    let counted = requests.clone();
    let served = emulator.clone();
    let endpoint = service_fn(move |req: http::Request<Full<Bytes>>| {
        counted.fetch_add(1, Ordering::Relaxed);
        let served = served.clone();
        async move {
            let res = served.oneshot(req).await?;
            Ok::<_, BoxError>(res.map(drop))
        }
    });
    let coalesced = LegacyRetries::new().coalesce_cold_starts(ColdStarts::new());
    let retry = match mode {
        Mode::Legacy => Either::Left(ModelNotReadyRetryLayer::legacy()),
        Mode::Coalesced => Either::Left(ModelNotReadyRetryLayer::new(coalesced)),
        Mode::CoalescedPolicy => Either::Right(tower::retry::RetryLayer::new(
            LegacyRetryPolicy::new(coalesced),
        )),
    };
    let svc = BoxCloneService::new(
        ServiceBuilder::new()
            .layer(DeadlineLayer::new(Duration::from_secs(360)))
            .layer(retry)
            .service(endpoint),
    );

    let call = || {
        let svc = svc.clone();
        async move {
            let req = http::Request::post("/endpoints/demo/invocations")
                .header("x-amzn-sagemaker-target-model", MODEL)
                .header("content-type", "text/csv")
                .body(Full::new(Bytes::from_static(b"1,2")))
                .expect("request");
            let res: Result<_, BoxError> = svc.oneshot(req).await;
            res.is_ok_and(|r| r.status().is_success())
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
    println!(
        "N callers at once on one cold model: load {} s, hold 60 s, latency {} ms; \
         requests and 429s: worst of {RUNS} runs; times after load: median run",
        LOAD.as_secs(),
        LATENCY.as_millis()
    );
    println!();
    println!("| N | mode | requests | 429s | p50 after load | p99 after load | max after load | failed |");
    println!("|---:|---|---:|---:|---:|---:|---:|---:|");
    let mut missed = Vec::new();
    for callers in [10, 100, 1_000] {
        let mut p99 = [Duration::ZERO; 3];
        let mut failed = [0; 3];
        let modes = [Mode::Legacy, Mode::Coalesced, Mode::CoalescedPolicy];
        for (i, mode) in modes.into_iter().enumerate() {
            let runs: Vec<Run> = (0..RUNS).map(|_| rt.block_on(run(callers, mode))).collect();
            let requests = runs.iter().map(|r| r.requests).max().unwrap_or(0);
            let not_ready = runs.iter().map(|r| r.not_ready).max().unwrap_or(0);
            let median = |f: &dyn Fn(&Run) -> Duration| {
                let mut v: Vec<Duration> = runs.iter().map(f).collect();
                v.sort();
                v[v.len() / 2]
            };
            let p50 = median(&|r| percentile(&r.after_load, 50.0));
            p99[i] = median(&|r| percentile(&r.after_load, 99.0));
            let max = median(&|r| r.after_load.last().copied().unwrap_or_default());
            failed[i] = runs.iter().map(|r| r.failed).sum::<usize>();
            println!(
                "| {callers} | {} | {requests} | {not_ready} | {:.1} ms | {:.1} ms | {:.1} ms | {} |",
                mode.name(),
                p50.as_secs_f64() * 1e3,
                p99[i].as_secs_f64() * 1e3,
                max.as_secs_f64() * 1e3,
                failed[i],
            );
            if mode == Mode::Coalesced && requests > callers as u64 + 10 {
                missed.push(format!("N = {callers}: {requests} requests > N + 10"));
            }
        }
        if failed[1..].iter().any(|f| *f > failed[0]) {
            missed.push(format!(
                "N = {callers}: more callers failed with coalescing"
            ));
        }
        if p99[1] > p99[0] + Duration::from_millis(10) {
            missed.push(format!(
                "N = {callers}: p99 after load more than 10 ms worse"
            ));
        }
    }
    println!();
    if missed.is_empty() {
        println!("targets met: requests <= N + 10, no more failures, p99 within +10 ms");
    } else {
        for m in &missed {
            println!("target missed: {m}");
        }
        std::process::exit(1);
    }
}
