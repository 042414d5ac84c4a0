//! Serves a local SageMaker Runtime multi-model endpoint over HTTP/1.1.
//!
//! ```text
//! cargo run --example mme_emulator --features emulator -- \
//!     --model model-1.tar.gz=5s:200MiB --model model-2.tar.gz=90s --memory 1GiB
//! ```
//!
//! Without `--model` it serves the demo models the other examples use.
//!
//! `--inference-component [ENDPOINT/]NAME[=COPIES[:SCALE_OUT[:IDLE]]]`
//! (repeatable) adds an inference component: COPIES at start (default 0,
//! scaled to zero), the scale-out time from the first call that finds no copy
//! (default 4m) and the idle time after which it scales in to zero (default
//! 15m), on ENDPOINT (default the first `--endpoint`, else `demo`). An
//! endpoint hosting components serves only them. For instance
//! `--endpoint demo --inference-component ics/llm=0:30s:5m` serves the models
//! on `demo` and component `llm` on `ics`, scaled to zero: calls get 400
//! `ValidationError` (no capacity) for 30 s after the first one, then it
//! serves until 5 minutes pass without a call.
//! Prints `listening on http://127.0.0.1:PORT` on stdout once bound; logs go
//! to stderr (one line per request by default; set `RUST_LOG` to change).
//! Ctrl-C shuts down gracefully. A fatal error is one line on stderr, exit 1.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tower_sagemaker::emulator::Emulator;

#[path = "common/cli.rs"]
mod cli;
#[path = "common/component_arg.rs"]
mod component_arg;
#[path = "common/demo.rs"]
mod demo;

use cli::{parse_duration, parse_endpoint_name, parse_size, ModelArg};
use component_arg::ComponentArg;

/// A local SageMaker Runtime multi-model endpoint, for tests and demos.
///
/// Serves POST /endpoints/{name}/invocations with the target-model header:
/// cold starts (calls held, then 429 ModelNotReadyException while a model
/// loads), LRU eviction when memory runs short, restJson1 errors, and SigV4
/// verification with --access-key/--secret-key; and inference components
/// that scale to zero (400 ValidationError, no capacity, until a scale-out
/// is done). Durations are seconds or take a unit (500ms, 5s, 2m, 1h); sizes
/// take a unit (200MiB, 1GB).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,

    /// A model: NAME=LOAD_TIME[:SIZE], e.g. model-1.tar.gz=5s:200MiB (repeatable;
    /// default: the demo models model-1.tar.gz, model-2.tar.gz, model-3.tar.gz).
    #[arg(long = "model", value_name = "NAME=LOAD_TIME[:SIZE]")]
    models: Vec<ModelArg>,

    /// An inference component: [ENDPOINT/]NAME[=COPIES[:SCALE_OUT[:IDLE]]],
    /// e.g. llm=0:4m:15m (repeatable). COPIES at start (default 0: scaled to
    /// zero); SCALE_OUT, from the first call that finds no copy to a serving
    /// copy (default 4m); IDLE, without calls before it scales in to zero
    /// (default 15m); ENDPOINT (default the first --endpoint, else demo),
    /// which then serves only its components.
    #[arg(
        long = "inference-component",
        value_name = "[ENDPOINT/]NAME[=COPIES[:SCALE_OUT[:IDLE]]]"
    )]
    components: Vec<ComponentArg>,

    /// An endpoint name (repeatable; default demo).
    #[arg(long = "endpoint", value_name = "NAME", value_parser = parse_endpoint_name)]
    endpoints: Vec<String>,

    /// How long a call for a loading model is held before 429 ModelNotReadyException.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    hold_timeout: Duration,

    /// How long a model load may take before it fails.
    #[arg(long, value_parser = parse_duration, default_value = "360s")]
    max_load_time: Duration,

    /// Memory for loaded models, with a unit: e.g. 2GiB (default unlimited).
    #[arg(long, value_parser = parse_size)]
    memory: Option<u64>,

    /// Access key: turns SigV4 verification on (needs --secret-key).
    #[arg(long, requires = "secret_key")]
    access_key: Option<String>,

    /// Secret key for SigV4 verification.
    #[arg(long, requires = "access_key")]
    secret_key: Option<String>,

    /// Region requests must be signed for.
    #[arg(long, default_value = "us-east-1")]
    region: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_sagemaker=debug".into()),
        )
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let mut builder = Emulator::builder()
        .hold_timeout(args.hold_timeout)
        .max_load_time(args.max_load_time)
        .region(args.region);
    // Where a component without an endpoint of its own goes, as the library places it.
    let first_endpoint = args
        .endpoints
        .first()
        .cloned()
        .unwrap_or_else(|| "demo".to_owned());
    let hosting_components: Vec<&str> = args
        .components
        .iter()
        .map(|c| c.spec.get_endpoint().unwrap_or(&first_endpoint))
        .collect();
    // The demo models, unless every endpoint hosts components (and so no model).
    let multi_model = if args.endpoints.is_empty() {
        !hosting_components.contains(&"demo")
    } else {
        args.endpoints
            .iter()
            .any(|e| !hosting_components.contains(&e.as_str()))
    };
    for endpoint in &args.endpoints {
        builder = builder.endpoint(endpoint);
    }
    if args.models.is_empty() && multi_model {
        builder = demo::with_demo_models(builder);
        eprintln!(
            "no --model: serving the demo models {}",
            demo::describe_demo_models()
        );
    }
    let smallest = args.models.iter().map(|m| m.spec.get_size()).min();
    for m in args.models {
        eprintln!(
            "model {}: load time {:?}, size {} bytes",
            m.name,
            m.spec.get_load_time(),
            m.spec.get_size()
        );
        builder = builder.model(m.name, m.spec);
    }
    for c in args.components {
        let spec = &c.spec;
        eprintln!(
            "inference component {} on endpoint {}: {} copies, scale-out {:?}, scale-in after {:?} idle",
            c.name,
            spec.get_endpoint().unwrap_or(&first_endpoint),
            spec.get_copies(),
            spec.get_scale_out_time(),
            spec.get_idle_time()
        );
        builder = builder
            .inference_component(c.name, c.spec)
            .map_err(|e| e.to_string())?;
    }
    if let Some(memory) = args.memory {
        if let Some(smallest) = smallest.filter(|s| *s > memory) {
            eprintln!(
                "warning: --memory {memory} bytes is less than the smallest model ({smallest} bytes): every load will fail with 507"
            );
        }
        builder = builder.memory(memory);
    }
    if let (Some(ak), Some(sk)) = (args.access_key, args.secret_key) {
        builder = builder.credentials(ak, sk);
        eprintln!("SigV4 verification on");
    }
    let emulator = builder.build();
    let server = emulator
        .serve(args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", server.endpoint_url())
            .and_then(|()| out.flush())
            .map_err(|e| format!("cannot write to stdout: {e}"))?;
    }
    eprintln!("endpoints: {}", emulator.endpoints().join(", "));

    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))?;
    eprintln!("shutting down");
    server.shutdown().await;
    Ok(())
}
