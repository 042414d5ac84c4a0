//! Runs one stack for a given number of requests, for an instruction
//! counter to measure: `benches/instructions.sh` runs it under
//! `valgrind --tool=callgrind`, which counts the same total for the same
//! binary whatever else the machine is doing.
//!
//! `cargo bench --bench instructions -- <stack> <requests>`, where `<stack>`
//! is one of a, b, c, m, c1, c2, c3 (the rows of the other benchmarks), or,
//! built with feature `sigv4`, s: `SigV4Layer` alone around the bare endpoint.

mod common;

use common::*;

fn main() {
    // `cargo bench` passes `--bench`; a plain `cargo bench` passes nothing
    // else, and then there is nothing to count: say how, and succeed.
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let usage = "usage: instructions <a|b|c|m|c1|c2|c3|s> <requests>";
    let (Some(stack), Some(requests)) = (args.next(), args.next()) else {
        println!("{usage} (benches/instructions.sh runs it under callgrind)");
        return;
    };
    let Ok(requests) = requests.parse::<u64>() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async move {
        macro_rules! run {
            ($svc:expr) => {{
                let mut svc = $svc;
                for _ in 0..requests {
                    call(&mut svc).await;
                }
            }};
        }
        match stack.as_str() {
            "a" => run!(bare()),
            "b" => run!(tower_parts(bare())),
            "c" => run!(this_crate(bare())),
            "m" => run!(required_extensions_only(bare())),
            "c1" => run!(only_target_model(bare())),
            "c2" => run!(only_deadline(bare())),
            "c3" => run!(only_retry(bare())),
            #[cfg(feature = "sigv4")]
            "s" => run!(tower::ServiceBuilder::new()
                .layer(tower_sagemaker::sigv4::SigV4Layer::new(
                    aws_credential_types::Credentials::new(
                        "AKIDBENCH",
                        "bench-secret",
                        None,
                        None,
                        "bench"
                    ),
                    "us-east-1",
                ))
                .service(bare())),
            _ => {
                eprintln!("{usage}");
                std::process::exit(2);
            }
        }
    });
}
