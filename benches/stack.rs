//! Success-path cost per request of (a) the bare endpoint, (b) the same job
//! built from tower and tower-http parts, (c) this crate's three layers.
//!
//! `cargo bench --bench stack`

mod common;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use tower::Service;

use common::*;

fn measure<S, B>(c: &mut Criterion, name: &str, mut svc: S)
where
    S: Service<Req, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    call(&mut svc).await;
                }
                start.elapsed()
            })
        })
    });
}

fn success_path(c: &mut Criterion) {
    // (b) and (c) back to back, then (b') and (c'): on a machine whose speed
    // drifts, adjacent measurements drift least apart.
    measure(c, "a_bare", bare());
    measure(c, "b_tower_parts", tower_parts(bare()));
    measure(c, "c_tower_sagemaker", this_crate(bare()));
    measure(c, "b_runtime_name", tower_parts_runtime_name(bare()));
    measure(c, "c_runtime_name", this_crate_runtime_name(bare()));
    measure(
        c,
        "b2_tower_parts_total_timeout",
        tower_parts_with_total_timeout(bare()),
    );
    measure(c, "c1_target_model_only", only_target_model(bare()));
    measure(c, "c2_deadline_only", only_deadline(bare()));
    measure(c, "c3_retry_only", only_retry(bare()));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = success_path
}
criterion_main!(benches);
