//! (c) against (b) with the two measured in turns, so that drift on a
//! shared machine falls on both alike: `cargo bench --bench interleaved`.
//!
//! Criterion (`--bench stack`) measures one stack after another; on a
//! machine whose speed wanders by ±10 % over a minute, the ratio of two such
//! figures wanders as much. Here each round times a batch of calls of every
//! stack back to back, and the ratios are taken from the fastest and the
//! median rounds.

mod common;

use std::time::Instant;

use tower::Service;

use common::*;

const ROUNDS: usize = 60;
const CALLS_PER_ROUND: u32 = 20_000;

/// One stack under test, type-erased to a batch runner.
struct Stack<'a> {
    name: &'static str,
    run: Box<dyn FnMut(&tokio::runtime::Runtime) -> f64 + 'a>,
    samples: Vec<f64>,
}

fn stack<'a, S, B>(name: &'static str, mut svc: S) -> Stack<'a>
where
    S: Service<Req, Response = http::Response<B>> + 'a,
    S::Error: std::fmt::Debug,
{
    Stack {
        name,
        run: Box::new(move |rt| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..CALLS_PER_ROUND {
                    call(&mut svc).await;
                }
                start.elapsed().as_nanos() as f64 / f64::from(CALLS_PER_ROUND)
            })
        }),
        samples: Vec::with_capacity(ROUNDS),
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut stacks = [
        stack("(a) bare endpoint", bare()),
        stack("(b) tower + tower-http parts", tower_parts(bare())),
        stack("(c) the three layers", this_crate(bare())),
        stack(
            "(b') (b), model name read at run time",
            tower_parts_runtime_name(bare()),
        ),
        stack(
            "(c') (c), model name read at run time",
            this_crate_runtime_name(bare()),
        ),
        stack(
            "(m) (a) + the Deadline and attempt count alone",
            required_extensions_only(bare()),
        ),
    ];
    // Warm-up round, not recorded.
    for s in &mut stacks {
        (s.run)(&rt);
    }
    for round in 0..ROUNDS {
        // Every other round runs the stacks in reverse order, so that no
        // stack always follows the same one.
        let order: Vec<usize> = if round % 2 == 0 {
            (0..stacks.len()).collect()
        } else {
            (0..stacks.len()).rev().collect()
        };
        for i in order {
            let ns = (stacks[i].run)(&rt);
            stacks[i].samples.push(ns);
        }
    }
    // Per-round ratios, taken before the samples are sorted: (b) and (c) of
    // one round ran within milliseconds of each other.
    let paired = |x: usize, y: usize| {
        let mut r: Vec<f64> = (0..ROUNDS)
            .map(|i| stacks[x].samples[i] / stacks[y].samples[i])
            .collect();
        r.sort_by(f64::total_cmp);
        (r[ROUNDS / 4], r[ROUNDS / 2], r[3 * ROUNDS / 4])
    };
    let paired_c = paired(2, 1);
    let paired_c_runtime = paired(4, 3);
    // What (c) would cost without the two values the issue requires it to
    // carry, round by round: (c) − ((m) − (a)), against (b).
    let mut without: Vec<f64> = (0..ROUNDS)
        .map(|i| {
            let at = |k: usize| stacks[k].samples[i];
            (at(2) - (at(5) - at(0))) / at(1)
        })
        .collect();
    without.sort_by(f64::total_cmp);
    let mut summary = Vec::new();
    println!("{ROUNDS} rounds of {CALLS_PER_ROUND} calls per stack, taken in turns; ns per call");
    println!("{:<48} {:>8} {:>8}", "stack", "fastest", "median");
    for s in &mut stacks {
        s.samples.sort_by(f64::total_cmp);
        let (min, median) = (s.samples[0], s.samples[ROUNDS / 2]);
        println!("{:<48} {:>8.0} {:>8.0}", s.name, min, median);
        summary.push((min, median));
    }
    let ratio = |x: usize, y: usize| (summary[x].0 / summary[y].0, summary[x].1 / summary[y].1);
    let (fast, median) = ratio(2, 1);
    println!("(c) / (b):   fastest {fast:.3}, median {median:.3}");
    let (fast, median) = ratio(4, 3);
    println!("(c') / (b'): fastest {fast:.3}, median {median:.3}");
    for (name, (q1, q2, q3)) in [("(c) / (b)", paired_c), ("(c') / (b')", paired_c_runtime)] {
        println!("{name:<12} round by round: median {q2:.3} (quartiles {q1:.3} .. {q3:.3})");
    }
    println!(
        "((c) - ((m) - (a))) / (b) round by round: median {:.3} (quartiles {:.3} .. {:.3})",
        without[ROUNDS / 2],
        without[ROUNDS / 4],
        without[3 * ROUNDS / 4]
    );
}
