//! N callers on an inference component at zero copies, with the
//! no-capacity rule off, on without sharing, and on with sharing:
//! `cargo bench --bench scale_from_zero`.
//!
//! Runs on tokio's paused clock against the in-process emulator (a
//! component at zero whose scale-out takes 4 minutes from the first failed
//! call, 5 ms per inference), so each run is exactly what the clock says.
//! Every caller goes through `DeadlineLayer` (600 s, the recommended budget
//! for components), `ModelNotReadyRetryLayer` and `NoCapacityLayer`. Each
//! row is the worst of `RUNS` runs for requests, no-capacity answers and
//! failures; p50 and p99 of the median run, and the worst run's max. The program checks the targets and exits
//! non-zero when one is missed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use tokio::time::Instant;
use tower::util::BoxCloneService;
use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
use tower_sagemaker::deadline::DeadlineLayer;
use tower_sagemaker::emulator::{ComponentSpec, Emulator};
use tower_sagemaker::retry::{ColdStarts, LegacyRetries, ModelNotReadyRetryLayer};
use tower_sagemaker::sagemaker::{INFERENCE_COMPONENT_HEADER, SCALE_FROM_ZERO_BUDGET};
use tower_sagemaker::scale_from_zero::NoCapacityLayer;

mod cold_start_run;

use cold_start_run::{callers, percentile, Run};

const COMPONENT: &str = "ic-llm";
const SCALE_OUT: Duration = Duration::from_secs(240);
const LATENCY: Duration = Duration::from_millis(5);
const RUNS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    Paced,
    Shared,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Off => "rule off (legacy)",
            Mode::Paced => "`scale_from_zero`",
            Mode::Shared => "`scale_from_zero` + `coalesce_cold_starts`",
        }
    }
}

async fn run(n: usize, mode: Mode) -> Run {
    let spec = ComponentSpec::new()
        .scale_out_time(SCALE_OUT)
        .latency(LATENCY);
    let emulator = Emulator::builder()
        .inference_component(COMPONENT, spec)
        .expect("a valid component name")
        .build();
    let requests = Arc::new(AtomicU64::new(0));
    let counted = requests.clone();
    let served = emulator.clone();
    let endpoint = service_fn(move |req: http::Request<Full<Bytes>>| {
        counted.fetch_add(1, Ordering::Relaxed);
        let served = served.clone();
        async move { served.oneshot(req).await }
    });
    let retries = match mode {
        Mode::Off => LegacyRetries::new(),
        Mode::Paced => LegacyRetries::new().scale_from_zero(),
        Mode::Shared => LegacyRetries::new()
            .scale_from_zero()
            .coalesce_cold_starts(ColdStarts::new()),
    };
    let svc = BoxCloneService::new(
        ServiceBuilder::new()
            .layer(DeadlineLayer::new(SCALE_FROM_ZERO_BUDGET))
            .layer(ModelNotReadyRetryLayer::new(retries))
            .layer(NoCapacityLayer::new())
            .service(endpoint),
    );

    let call = || {
        let svc = svc.clone();
        async move {
            let req = http::Request::post("/endpoints/demo/invocations")
                .header(INFERENCE_COMPONENT_HEADER, COMPONENT)
                .header("content-type", "text/csv")
                .body(Full::new(Bytes::from_static(b"1,2")))
                .expect("request");
            let res: Result<_, BoxError> = svc.oneshot(req).await;
            res.is_ok_and(|r| r.status().is_success())
        }
    };
    // The first failed call starts the scale-out: at once.
    let (after_ready, failed) = callers(n, call, Instant::now() + SCALE_OUT).await;
    Run {
        requests: requests.load(Ordering::Relaxed),
        not_ready: emulator
            .component_stats(COMPONENT)
            .map_or(0, |s| s.no_capacity),
        after_load: after_ready,
        failed,
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    let pacing = LegacyRetries::new().get_scale_out_backoff();
    let (min, max) = (
        pacing.get_min_delay(),
        pacing
            .get_max_delay()
            .expect("the scale-out pacing is capped"),
    );
    println!(
        "N callers at once on an inference component at zero copies: scale-out {} s from the \
         first failed call, latency {} ms, deadline {} s, retries paced {}-{} s apart; \
         requests, no-capacity answers and failures: worst of {RUNS} runs; times after the \
         copy is ready: p50 and p99 of the median run, max of the worst run",
        SCALE_OUT.as_secs(),
        LATENCY.as_millis(),
        SCALE_FROM_ZERO_BUDGET.as_secs(),
        min.as_secs(),
        max.as_secs(),
    );
    println!();
    println!("| N | mode | requests | no-capacity answers | failed | p50 after ready | p99 after ready | max after ready |");
    println!("|---:|---|---:|---:|---:|---:|---:|---:|");
    let mut missed = Vec::new();
    // At most one probe per shortest pacing interval during the scale-out.
    let probes = (SCALE_OUT.as_secs() / min.as_secs()) + 1;
    for callers in [10, 100, 1_000] {
        for mode in [Mode::Off, Mode::Paced, Mode::Shared] {
            let runs: Vec<Run> = (0..RUNS).map(|_| rt.block_on(run(callers, mode))).collect();
            let requests = runs.iter().map(|r| r.requests).max().unwrap_or(0);
            let no_capacity = runs.iter().map(|r| r.not_ready).max().unwrap_or(0);
            let failed = runs.iter().map(|r| r.failed).max().unwrap_or(0);
            let median = |f: &dyn Fn(&Run) -> Duration| {
                let mut v: Vec<Duration> = runs.iter().map(f).collect();
                v.sort();
                v[v.len() / 2]
            };
            let p50 = median(&|r| percentile(&r.after_load, 50.0));
            let p99 = median(&|r| percentile(&r.after_load, 99.0));
            let worst = runs
                .iter()
                .filter_map(|r| r.after_load.last().copied())
                .max()
                .unwrap_or_default();
            let time = |d: Duration| match failed == callers {
                true => "-".to_owned(),
                false => format!("{:.1} s", d.as_secs_f64()),
            };
            println!(
                "| {callers} | {} | {requests} | {no_capacity} | {failed} | {} | {} | {} |",
                mode.name(),
                time(p50),
                time(p99),
                time(worst),
            );
            match mode {
                Mode::Off if failed != callers => missed.push(format!(
                    "N = {callers}: with the rule off, {failed} callers failed, not all"
                )),
                Mode::Shared => {
                    if failed > 0 {
                        missed.push(format!(
                            "N = {callers}: {failed} callers failed with sharing"
                        ));
                    }
                    if requests > callers as u64 + probes {
                        missed.push(format!("N = {callers}: {requests} requests > N + {probes}"));
                    }
                    let p99 = runs
                        .iter()
                        .map(|r| percentile(&r.after_load, 99.0))
                        .max()
                        .unwrap_or_default();
                    if p99 > max {
                        missed.push(format!("N = {callers}: p99 after ready {p99:?} > {max:?}"));
                    }
                }
                _ => {}
            }
        }
    }
    println!();
    if missed.is_empty() {
        println!(
            "targets met: with sharing no caller failed, requests <= N + {probes} (one per \
             probe interval), p99 after ready <= {} s (one probe interval)",
            max.as_secs()
        );
    } else {
        for m in &missed {
            println!("target missed: {m}");
        }
        std::process::exit(1);
    }
}
