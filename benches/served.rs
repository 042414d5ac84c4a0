//! The emulator served as a shared server, under load, over loopback TCP on
//! the real clock, with its default settings: `cargo bench --all-features
//! --bench served`.
//!
//! 1. Callers past the connection cap: 2,000 callers at once through one
//!    recommended stack (`multi_model_endpoint` around one hyper-util client,
//!    so one connection pool) on a model that loads in 3 s. Every caller must
//!    succeed, and none after 10 s.
//! 2. Stalled uploads: 50 clients each send 6 MiB less 64 KiB of a chunked
//!    body and stall; meanwhile a prober sends a small call every 200 ms for
//!    10 s, each given 3 s. At least 95 % must be answered.
//!
//! Each runs `RUNS` times; the program prints every run and exits non-zero
//! when a target is missed.

mod common;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::server::on_own_thread;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tower::{BoxError, ServiceBuilder, ServiceExt};
use tower_sagemaker::emulator::{Emulator, ModelSpec};
use tower_sagemaker::target_model::TargetModel;
use tower_sagemaker::ServiceBuilderExt;

const RUNS: usize = 3;
const MODEL: &str = "model-1.tar.gz";
const CALLERS: usize = 2_000;
const LOAD: Duration = Duration::from_secs(3);
const LATEST: Duration = Duration::from_secs(10);
const UPLOADS: usize = 50;
const UPLOAD_BYTES: usize = 6 * 1024 * 1024 - 64 * 1024;
const PROBES: usize = 50;
const PROBE_EVERY: Duration = Duration::from_millis(200);
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The emulator with its default settings and one model, served on its own
/// thread and runtime; its address.
fn serve(spec: ModelSpec) -> SocketAddr {
    on_own_thread(|tx| async move {
        let emulator = Emulator::builder().model(MODEL, spec).build();
        let server = emulator.serve(([127, 0, 0, 1], 0).into()).await.unwrap();
        tx.send(server.local_addr()).unwrap();
        std::future::pending::<()>().await;
    })
}

fn invocation(addr: SocketAddr) -> http::Request<Full<Bytes>> {
    http::Request::post(format!("http://{addr}/endpoints/demo/invocations"))
        .header("content-type", "text/csv")
        .body(Full::new(Bytes::from_static(b"1.0,2.0,5.0")))
        .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// Part 1: whether every caller succeeded within `LATEST`.
async fn callers_past_the_cap(run: usize) -> bool {
    let addr = serve(ModelSpec::new(LOAD));
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let stack = ServiceBuilder::new()
        .multi_model_endpoint(TargetModel::new(MODEL).unwrap())
        .service(client);
    let start = Instant::now();
    // All in this task, polled together: the callers start at once.
    let callers = (0..CALLERS).map(|_| {
        let stack = stack.clone();
        async move {
            let res = stack
                .oneshot(invocation(addr))
                .await
                .map_err(|e| e.to_string())?;
            let status = res.status();
            res.into_body().collect().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((status, start.elapsed()))
        }
    });
    let mut times = Vec::with_capacity(CALLERS);
    let mut failed = Vec::new();
    for caller in futures_util::future::join_all(callers).await {
        match caller {
            Ok((status, took)) if status.is_success() => times.push(took),
            Ok((status, _)) => failed.push(status.to_string()),
            Err(e) => failed.push(e),
        }
    }
    times.sort();
    let late = times.iter().filter(|t| **t > LATEST).count();
    println!(
        "callers, run {run}: {} of {CALLERS} succeeded, {} failed, {late} after {} s; \
         p50 {:.2} s, p99 {:.2} s, max {:.2} s",
        times.len(),
        failed.len(),
        LATEST.as_secs(),
        percentile(&times, 0.5).as_secs_f64(),
        percentile(&times, 0.99).as_secs_f64(),
        times.last().copied().unwrap_or_default().as_secs_f64(),
    );
    failed.sort();
    failed.dedup();
    for f in failed.iter().take(3) {
        println!("  failure: {f}");
    }
    failed.is_empty() && late == 0
}

/// One stalled upload: the head, `UPLOAD_BYTES` of a chunked body (as much
/// as the server takes within a second), then nothing. The socket stays open.
async fn stalled_upload(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /endpoints/demo/invocations HTTP/1.1\r\nhost: {addr}\r\ncontent-type: text/csv\r\n\
         x-amzn-sagemaker-target-model: {MODEL}\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'1'; 64 * 1024];
    let mut sent = 0;
    while sent < UPLOAD_BYTES {
        let n = chunk.len().min(UPLOAD_BYTES - sent);
        let mut frame = format!("{n:x}\r\n").into_bytes();
        frame.extend_from_slice(&chunk[..n]);
        frame.extend_from_slice(b"\r\n");
        let write = stream.write_all(&frame);
        if tokio::time::timeout(Duration::from_secs(1), write)
            .await
            .is_err()
        {
            break;
        }
        sent += n;
    }
    stream
}

/// Part 2: whether the prober got at least 95 % of its calls answered.
async fn prober_beside_stalled_uploads(run: usize) -> bool {
    let addr = serve(ModelSpec::new(Duration::ZERO));
    let uploads: Vec<_> = (0..UPLOADS)
        .map(|_| tokio::spawn(stalled_upload(addr)))
        .collect();
    let mut stalled = Vec::new();
    for upload in uploads {
        stalled.push(upload.await.unwrap());
    }
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut answered = 0;
    for _ in 0..PROBES {
        let mut req = invocation(addr);
        req.headers_mut()
            .insert("x-amzn-sagemaker-target-model", MODEL.parse().unwrap());
        let call = async {
            let res = client.request(req).await?;
            let ok = res.status().is_success();
            res.into_body().collect().await?;
            Ok::<_, BoxError>(ok)
        };
        if let Ok(Ok(true)) = tokio::time::timeout(PROBE_TIMEOUT, call).await {
            answered += 1;
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
    drop(stalled);
    let share = answered as f64 / PROBES as f64;
    println!(
        "prober, run {run}: {answered} of {PROBES} calls answered ({:.0} %) while {UPLOADS} uploads stall",
        share * 100.0
    );
    share >= 0.95
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut met = true;
    for run in 1..=RUNS {
        met &= callers_past_the_cap(run).await;
    }
    for run in 1..=RUNS {
        met &= prober_beside_stalled_uploads(run).await;
    }
    if met {
        ExitCode::SUCCESS
    } else {
        println!("a target was missed");
        ExitCode::FAILURE
    }
}
