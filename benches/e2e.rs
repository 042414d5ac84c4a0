//! Whole calls over loopback TCP with real clients: `cargo bench --bench e2e`.
//!
//! Each round times a batch of calls of every row back to back (in reverse
//! order every other round), so machine drift falls on all rows alike; the
//! result is each row's ratio to the bare hyper-util client, the median of
//! the round-by-round ratios. Calls per second are context only. The client
//! runs on one thread (a current-thread runtime); each server on its own.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_sagemakerruntime::config::{BehaviorVersion, Region};
use aws_sdk_sagemakerruntime::primitives::Blob;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::retry::RetryLayer;
use tower::timeout::TimeoutLayer;
use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
use tower_http::set_header::SetRequestHeaderLayer;
use tower_http::timeout::ResponseBodyTimeoutLayer;
use tower_sagemaker::aws_sdk::MultiModelEndpointExt;
use tower_sagemaker::emulator::{Emulator, ModelSpec};
use tower_sagemaker::retry::{LegacyRetries, ModelNotReadyRetryLayer};
use tower_sagemaker::sagemaker::{INVOCATION_ID_HEADER, SDK_REQUEST_HEADER, TARGET_MODEL_HEADER};
use tower_sagemaker::sigv4::SigV4Layer;
use tower_sagemaker::target_model::{TargetModel, TargetModelLayer};
use tower_sagemaker::ServiceBuilderExt;

mod common;

use common::server::{minimal_server, on_own_thread};
use common::{NeverRetry, Retry429};

const ROUNDS: usize = 9;
const CALLS: u32 = 3_000;
/// Callers at once in the concurrent rows.
const CALLERS: u32 = 32;
/// Calls of each caller per round in the concurrent rows: 30,080 calls in all.
const CALLS_PER_CALLER: u32 = 940;
const MODEL: &str = "model-1.tar.gz";
const ACCESS_KEY: &str = "AKIDBENCH";
const SECRET_KEY: &str = "bench-secret";
const REGION: &str = "us-east-1";

type Req = http::Request<Full<Bytes>>;
type CallFuture<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// The emulator, served: a loaded model, no signature checks.
fn emulator_server() -> SocketAddr {
    on_own_thread(|tx| async move {
        let emulator = Emulator::builder()
            .model(MODEL, ModelSpec::new(Duration::ZERO))
            .build();
        let server = emulator.serve(([127, 0, 0, 1], 0).into()).await.unwrap();
        tx.send(server.local_addr()).unwrap();
        std::future::pending::<()>().await;
    })
}

fn request(addr: SocketAddr) -> Req {
    http::Request::post(format!("http://{addr}/endpoints/demo/invocations"))
        .header("content-type", "text/csv")
        .header("x-amzn-sagemaker-target-model", MODEL)
        .body(Full::new(Bytes::from_static(b"1.0,2.0,5.0")))
        .unwrap()
}

fn credentials() -> Credentials {
    Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "bench")
}

/// A tower service's call, the body read.
async fn tower_call<S, B>(svc: &mut S, req: Req)
where
    S: Service<Req, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let res = svc.ready().await.unwrap().call(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "8.0");
}

/// One row: a name and a way to make one call.
struct Row<'a> {
    name: &'static str,
    call: Box<dyn FnMut() -> CallFuture<'a> + 'a>,
    ns_per_call: Vec<f64>,
}

fn row<'a>(name: &'static str, call: impl FnMut() -> CallFuture<'a> + 'a) -> Row<'a> {
    Row {
        name,
        call: Box::new(call),
        ns_per_call: Vec::with_capacity(ROUNDS),
    }
}

/// One concurrent row: a name and a way to make one caller, which makes `n` calls in turn.
struct ConcurrentRow<'a> {
    name: &'static str,
    caller: Box<dyn FnMut(u32) -> CallFuture<'a> + 'a>,
    ns_per_call: Vec<f64>,
}

fn concurrent_row<'a>(
    name: &'static str,
    caller: impl FnMut(u32) -> CallFuture<'a> + 'a,
) -> ConcurrentRow<'a> {
    ConcurrentRow {
        name,
        caller: Box::new(caller),
        ns_per_call: Vec::with_capacity(ROUNDS),
    }
}

/// A caller of a tower service: `n` calls in turn on its own clone.
fn caller<'a, S, B>(svc: &S, addr: SocketAddr, n: u32) -> CallFuture<'a>
where
    S: Service<Req, Response = http::Response<B>> + Clone + 'a,
    S::Error: std::fmt::Debug,
    B: http_body::Body + 'a,
    B::Error: std::fmt::Debug,
{
    let mut svc = svc.clone();
    Box::pin(async move {
        for _ in 0..n {
            tower_call(&mut svc, request(addr)).await;
        }
    })
}

/// `CALLERS` callers of a row at once, `n` calls each.
async fn callers_at_once(row: &mut ConcurrentRow<'_>, n: u32) {
    let callers: Vec<_> = (0..CALLERS).map(|_| (row.caller)(n)).collect();
    futures_util::future::join_all(callers).await;
}

fn print_table(floor_name: &str, rows: &[(&'static str, &[f64])]) {
    println!("| row | ratio to {floor_name} | calls/s (median round) | µs per call |");
    println!("|---|---:|---:|---:|");
    let floor = rows[0].1;
    for (name, ns_per_call) in rows {
        let ratios = ns_per_call
            .iter()
            .zip(floor)
            .map(|(ns, base)| ns / base)
            .collect();
        let ns = median(ns_per_call.to_vec());
        println!(
            "| {} | {:.2} | {:.0} | {:.1} |",
            name,
            median(ratios),
            1e9 / ns,
            ns / 1e3
        );
    }
}

fn sdk_client(addr: SocketAddr, with_crate: bool) -> aws_sdk_sagemakerruntime::Client {
    let mut config = aws_sdk_sagemakerruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(format!("http://{addr}"))
        .credentials_provider(credentials());
    if with_crate {
        config = config.multi_model_endpoint(TargetModel::new(MODEL).unwrap());
    }
    aws_sdk_sagemakerruntime::Client::from_conf(config.build())
}

/// aws-sigv4 alone: the signature this crate's SigV4Layer makes, without the layer.
fn sign_alone() {
    let identity = credentials().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("sagemaker")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let headers = [
        ("content-type", "text/csv"),
        ("x-amzn-sagemaker-target-model", MODEL),
        ("host", "127.0.0.1:8080"),
    ];
    let signable = SignableRequest::new(
        "POST",
        "http://127.0.0.1:8080/endpoints/demo/invocations",
        headers.into_iter(),
        SignableBody::Bytes(b"1.0,2.0,5.0"),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    std::hint::black_box(instructions);
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let minimal = minimal_server();
    let emulator = emulator_server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();

    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let bare = client.clone();
    let stack = ServiceBuilder::new()
        .multi_model_endpoint(TargetModel::new(MODEL).unwrap())
        .service(client.clone());
    let signed = ServiceBuilder::new()
        .multi_model_endpoint(TargetModel::new(MODEL).unwrap())
        .layer(SigV4Layer::new(credentials(), REGION))
        .service(client.clone());
    let signer_only = ServiceBuilder::new()
        .layer(SigV4Layer::new(credentials(), REGION))
        .service(service_fn(|_req: Req| async {
            Ok::<_, BoxError>(http::Response::new(Full::new(Bytes::from_static(b"8.0"))))
        }));
    // Where the recommended stack's difference from tower's parts goes: the
    // stack less the layers that time the body (`DeadlineLayer`,
    // `ReadTimeoutLayer`; the retry layer's 70 s attempt timer stays), the
    // same less the attempt headers, and tower's retry beside the crate's.
    let target_model_retry = ServiceBuilder::new()
        .layer(TargetModelLayer::new(TargetModel::new(MODEL).unwrap()))
        .layer(ModelNotReadyRetryLayer::legacy())
        .service(client.clone());
    let retry_layer_alone = ServiceBuilder::new()
        .layer(TargetModelLayer::new(TargetModel::new(MODEL).unwrap()))
        .layer(ModelNotReadyRetryLayer::new(
            LegacyRetries::new().attempt_headers(false),
        ))
        .service(client.clone());
    let target_model_tower_retry = ServiceBuilder::new()
        .layer(TargetModelLayer::new(TargetModel::new(MODEL).unwrap()))
        .layer(RetryLayer::new(Retry429::new(4)))
        .layer(TimeoutLayer::new(Duration::from_secs(70)))
        .service(client.clone());
    let tower_parts = ServiceBuilder::new()
        .layer(SetRequestHeaderLayer::if_not_present(
            TARGET_MODEL_HEADER,
            http::HeaderValue::from_static(MODEL),
        ))
        .layer(RetryLayer::new(Retry429::new(4)))
        .layer(TimeoutLayer::new(Duration::from_secs(70)))
        .service(client.clone());
    // The recommended stack's jobs done with tower's and tower-http's parts,
    // as near as they come: a fresh `amz-sdk-invocation-id` per call, a
    // (fixed) `amz-sdk-request` on each attempt, 70 s per attempt, 360 s for
    // the call's head (tower's `Timeout` does not reach the body) and
    // tower-http's 70 s timeout for each body frame.
    let tower_parts_same_jobs = ServiceBuilder::new()
        .layer(SetRequestHeaderLayer::if_not_present(
            TARGET_MODEL_HEADER,
            http::HeaderValue::from_static(MODEL),
        ))
        .layer(SetRequestHeaderLayer::if_not_present(
            INVOCATION_ID_HEADER,
            |_: &Req| {
                let id = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes());
                http::HeaderValue::from_str(&id.into_uuid().hyphenated().to_string()).ok()
            },
        ))
        .layer(TimeoutLayer::new(Duration::from_secs(360)))
        .layer(ResponseBodyTimeoutLayer::new(Duration::from_secs(70)))
        .layer(RetryLayer::new(Retry429::new(4)))
        .layer(SetRequestHeaderLayer::overriding(
            SDK_REQUEST_HEADER,
            http::HeaderValue::from_static("attempt=1; max=5"),
        ))
        .layer(TimeoutLayer::new(Duration::from_secs(70)))
        .service(client.clone());
    let tower_parts_no_retry = ServiceBuilder::new()
        .layer(SetRequestHeaderLayer::if_not_present(
            TARGET_MODEL_HEADER,
            http::HeaderValue::from_static(MODEL),
        ))
        .layer(RetryLayer::new(NeverRetry))
        .layer(TimeoutLayer::new(Duration::from_secs(70)))
        .service(client.clone());
    let sdk = sdk_client(minimal, false);
    let sdk_with_crate = sdk_client(minimal, true);
    let to_emulator = client.clone();

    let sdk_call = |client: &aws_sdk_sagemakerruntime::Client| {
        let client = client.clone();
        Box::pin(async move {
            let out = client
                .invoke_endpoint()
                .endpoint_name("demo")
                .target_model(MODEL)
                .content_type("text/csv")
                .body(Blob::new(&b"1.0,2.0,5.0"[..]))
                .send()
                .await
                .unwrap();
            assert_eq!(out.body().map(|b| b.as_ref()), Some(&b"8.0"[..]));
        }) as CallFuture<'static>
    };

    let mut rows = vec![
        row("bare hyper-util client (the floor)", || {
            let mut svc = bare.clone();
            Box::pin(async move { tower_call(&mut svc, request(minimal)).await })
        }),
        row("recommended stack (`multi_model_endpoint`)", || {
            let mut svc = stack.clone();
            Box::pin(async move { tower_call(&mut svc, request(minimal)).await })
        }),
        row("recommended stack + `SigV4Layer`", || {
            let mut svc = signed.clone();
            Box::pin(async move { tower_call(&mut svc, request(minimal)).await })
        }),
        row("aws-sdk-sagemakerruntime alone", || sdk_call(&sdk)),
        row("aws-sdk-sagemakerruntime + this crate's extension", || {
            sdk_call(&sdk_with_crate)
        }),
        row("bare client against the emulator", || {
            let mut svc = to_emulator.clone();
            Box::pin(async move { tower_call(&mut svc, request(emulator)).await })
        }),
        row("`SigV4Layer` alone, no network", || {
            let mut svc = signer_only.clone();
            Box::pin(async move { tower_call(&mut svc, request(minimal)).await })
        }),
        row("aws-sigv4 `sign` alone, no network", || {
            Box::pin(async { sign_alone() })
        }),
    ];

    let mut concurrent = vec![
        concurrent_row("bare hyper-util client, 32 at once (the floor)", |n| {
            caller(&bare, minimal, n)
        }),
        concurrent_row(
            "tower's parts (`SetRequestHeader` + `Retry` of 429 + `Timeout`), 32 at once",
            |n| caller(&tower_parts, minimal, n),
        ),
        concurrent_row(
            "tower's and tower-http's parts doing the recommended stack's jobs, as near as they come, 32 at once",
            |n| caller(&tower_parts_same_jobs, minimal, n),
        ),
        concurrent_row(
            "tower's parts with a `Retry` that cannot retry (no request copy), 32 at once",
            |n| caller(&tower_parts_no_retry, minimal, n),
        ),
        concurrent_row(
            "recommended stack (`multi_model_endpoint`), 32 at once",
            |n| caller(&stack, minimal, n),
        ),
        concurrent_row("  `TargetModelLayer` + `ModelNotReadyRetryLayer` (the stack less the body's timers), 32 at once", |n| caller(&target_model_retry, minimal, n)),
        concurrent_row("  the same without the attempt headers, 32 at once", |n| caller(&retry_layer_alone, minimal, n)),
        concurrent_row("  `TargetModelLayer` + tower's `Retry` of 429 + `Timeout`, 32 at once", |n| caller(&target_model_tower_retry, minimal, n)),
    ];

    // Warm-up: connections, pools, caches.
    for r in &mut rows {
        let call = &mut r.call;
        rt.block_on(async {
            for _ in 0..200 {
                call().await;
            }
        });
    }
    for r in &mut concurrent {
        rt.block_on(callers_at_once(r, 20));
    }
    let started = Instant::now();
    for round in 0..ROUNDS {
        let order: Vec<usize> = if round % 2 == 0 {
            (0..rows.len()).collect()
        } else {
            (0..rows.len()).rev().collect()
        };
        for i in order {
            let call = &mut rows[i].call;
            let ns = rt.block_on(async {
                let start = Instant::now();
                for _ in 0..CALLS {
                    call().await;
                }
                start.elapsed().as_nanos() as f64 / f64::from(CALLS)
            });
            rows[i].ns_per_call.push(ns);
        }
    }

    let sequential_secs = started.elapsed().as_secs_f64();

    let started = Instant::now();
    for round in 0..ROUNDS {
        let order: Vec<usize> = if round % 2 == 0 {
            (0..concurrent.len()).collect()
        } else {
            (0..concurrent.len()).rev().collect()
        };
        for i in order {
            let r = &mut concurrent[i];
            let ns = rt.block_on(async {
                let start = Instant::now();
                callers_at_once(r, CALLS_PER_CALLER).await;
                start.elapsed().as_nanos() as f64 / f64::from(CALLERS * CALLS_PER_CALLER)
            });
            r.ns_per_call.push(ns);
        }
    }
    let concurrent_secs = started.elapsed().as_secs_f64();

    println!(
        "{ROUNDS} rounds of {CALLS} calls per row, {sequential_secs:.0} s; ratio = time per call / the bare client's, median of round-by-round ratios\n"
    );
    let rows: Vec<_> = rows
        .iter()
        .map(|r| (r.name, r.ns_per_call.as_slice()))
        .collect();
    print_table("the bare client", &rows);
    println!(
        "\n{ROUNDS} rounds of {CALLERS} callers at once x {CALLS_PER_CALLER} calls each per row, {concurrent_secs:.0} s; ratio to the bare client called {CALLERS} at once\n"
    );
    let rows: Vec<_> = concurrent
        .iter()
        .map(|r| (r.name, r.ns_per_call.as_slice()))
        .collect();
    print_table("the bare client, 32 at once", &rows);
}
