//! Heap allocations per request on the success path, counted with dhat's
//! global allocator: `cargo bench --bench allocations`.

mod common;

use tower::Service;

use common::*;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const REQUESTS: u64 = 1000;

/// Allocations (count, bytes) per request for `svc`, request construction included.
fn per_request<S, B>(rt: &tokio::runtime::Runtime, mut svc: S) -> (f64, f64)
where
    S: Service<Req, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
{
    rt.block_on(async {
        // Warm up: first clones of shared values (e.g. a promoted `Bytes`) happen once.
        for _ in 0..10 {
            call(&mut svc).await;
        }
        let before = dhat::HeapStats::get();
        for _ in 0..REQUESTS {
            call(&mut svc).await;
        }
        let after = dhat::HeapStats::get();
        (
            (after.total_blocks - before.total_blocks) as f64 / REQUESTS as f64,
            (after.total_bytes - before.total_bytes) as f64 / REQUESTS as f64,
        )
    })
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();

    let request_only = {
        let before = dhat::HeapStats::get();
        for _ in 0..REQUESTS {
            drop(std::hint::black_box(request()));
        }
        let after = dhat::HeapStats::get();
        (after.total_blocks - before.total_blocks) as f64 / REQUESTS as f64
    };

    let rows = [
        ("(a) bare endpoint", per_request(&rt, bare())),
        (
            "(b) tower + tower-http parts",
            per_request(&rt, tower_parts(bare())),
        ),
        (
            "(b2) (b) + outer 360 s Timeout",
            per_request(&rt, tower_parts_with_total_timeout(bare())),
        ),
        (
            "(c) tower-sagemaker, three layers",
            per_request(&rt, this_crate(bare())),
        ),
        (
            "(b') (b), model name read at run time",
            per_request(&rt, tower_parts_runtime_name(bare())),
        ),
        (
            "(c') (c), model name read at run time",
            per_request(&rt, this_crate_runtime_name(bare())),
        ),
        (
            "(m) (a) + the Deadline and attempt count alone",
            per_request(&rt, required_extensions_only(bare())),
        ),
        (
            "(c1) TargetModelLayer only",
            per_request(&rt, only_target_model(bare())),
        ),
        (
            "(c2) DeadlineLayer only",
            per_request(&rt, only_deadline(bare())),
        ),
        (
            "(c3) ModelNotReadyRetryLayer only",
            per_request(&rt, only_retry(bare())),
        ),
    ];

    println!("building the request itself: {request_only:.2} allocations");
    println!("| stack | allocations / request | bytes / request | allocations beyond (a) |");
    println!("|---|---:|---:|---:|");
    let base = rows[0].1 .0;
    for (name, (blocks, bytes)) in rows {
        println!(
            "| {name} | {blocks:.2} | {bytes:.0} | {:.2} |",
            blocks - base
        );
    }
}
