//! The AWS SDK for Rust (`aws-sdk-sagemakerruntime`) calling a multi-model
//! endpoint, with this crate's legacy retries of `ModelNotReadyException`.
//!
//! ```text
//! # Against the embedded emulator (a demo model with a 3 s cold start):
//! cargo run --features aws-sdk-sagemakerruntime,emulator --example aws_sdk
//!
//! # Against SageMaker (credentials from the environment, via aws-config):
//! cargo run --features aws-sdk-sagemakerruntime,emulator --example aws_sdk -- \
//!     --region us-east-1 --endpoint-name my-mme --target-model model-3.tar.gz \
//!     --body "1.0,2.0,5.0" --content-type text/csv --max-retries 4
//! ```
//!
//! Without `--region` it starts the emulator in-process on 127.0.0.1 with the
//! target model taking 3 s to load and a 1 s hold (instead of 60 s), so the
//! first attempts get 429 `ModelNotReadyException` and are retried; the SDK
//! alone would fail on the first.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_sagemakerruntime::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sagemakerruntime::config::{
    BehaviorVersion, Builder, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_sagemakerruntime::error::{BoxError, DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sagemakerruntime::primitives::Blob;
use aws_sdk_sagemakerruntime::Client;
use clap::Parser;
use tower_sagemaker::aws_sdk::{MultiModelEndpoint, MultiModelEndpointExt};
use tower_sagemaker::emulator::{Emulator, ModelSpec};
use tower_sagemaker::retry::LegacyRetries;
use tower_sagemaker::target_model::TargetModel;

/// Invoke a (multi-model) SageMaker endpoint with the AWS SDK for Rust and
/// tower-sagemaker's retries. Without --region, against an embedded emulator.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// AWS region of the endpoint; without it, the embedded emulator is used.
    #[arg(long)]
    region: Option<String>,

    /// Name of the endpoint.
    #[arg(long, default_value = "demo")]
    endpoint_name: String,

    /// The model of the multi-model endpoint to invoke.
    #[arg(long, default_value = "model-1.tar.gz")]
    target_model: String,

    /// Request payload, as text.
    #[arg(long, default_value = "1.0,2.0,5.0")]
    body: String,

    /// MIME type of the payload.
    #[arg(long, default_value = "text/csv")]
    content_type: String,

    /// Retries after the first attempt (botocore's legacy default is 4).
    #[arg(long, default_value_t = 4)]
    max_retries: u32,
}

/// Prints each attempt the SDK makes.
#[derive(Debug, Default)]
struct PrintAttempts {
    count: AtomicU32,
    start: Option<Instant>,
}

impl Intercept for PrintAttempts {
    fn name(&self) -> &'static str {
        "PrintAttempts"
    }

    fn read_before_transmit(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let at = self.start.map(|s| s.elapsed()).unwrap_or_default();
        eprintln!("attempt {n} at {:.2} s", at.as_secs_f64());
        Ok(())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), BoxError> {
    let target_model = TargetModel::new(args.target_model.clone())?;
    let mut emulator = None;

    let base: Builder = match &args.region {
        Some(region) => {
            println!(
                "Calling SageMaker endpoint {} in {region} (credentials from the environment)",
                args.endpoint_name
            );
            let sdk_config = aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new(region.clone()))
                .load()
                .await;
            Builder::from(&sdk_config)
        }
        None => {
            let emu = Emulator::builder()
                .endpoint(args.endpoint_name.clone())
                .model(
                    target_model.as_str(),
                    ModelSpec::new(Duration::from_secs(3)),
                )
                .hold_timeout(Duration::from_secs(1))
                .credentials("AKID", "SECRET")
                .region("us-east-1")
                .build();
            let server = emu.serve("127.0.0.1:0".parse()?).await?;
            println!(
                "No --region: using the embedded emulator at {} (model {} with a 3 s cold start, 1 s hold)",
                server.endpoint_url(),
                target_model
            );
            let base = aws_sdk_sagemakerruntime::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(server.endpoint_url())
                .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "example"));
            emulator = Some((emu, server));
            base
        }
    };

    let start = Instant::now();
    let config = base
        .interceptor(PrintAttempts {
            count: AtomicU32::new(0),
            start: Some(start),
        })
        .multi_model_endpoint_with(
            MultiModelEndpoint::new()
                .target_model(target_model.clone())
                .retries(LegacyRetries::new().max_retries(args.max_retries)),
        )
        .build();
    let client = Client::from_conf(config);

    let result = client
        .invoke_endpoint()
        .endpoint_name(&args.endpoint_name)
        .content_type(&args.content_type)
        .body(Blob::new(args.body.clone()))
        .send()
        .await;
    let elapsed = start.elapsed();

    if let Some((emu, _)) = &emulator {
        if let Some(stats) = emu.stats(target_model.as_str()) {
            println!(
                "emulator: {} ModelNotReadyException answer(s), {} load(s), {} invocation(s)",
                stats.not_ready, stats.loads, stats.invocations
            );
        }
    }
    let outcome = match result {
        Ok(out) => {
            let body = out.body().map(|b| b.as_ref()).unwrap_or_default();
            println!(
                "{} after {:.2} s: {}",
                out.invoked_production_variant().unwrap_or("(no variant)"),
                elapsed.as_secs_f64(),
                String::from_utf8_lossy(body)
            );
            Ok(())
        }
        Err(e) => {
            let why = match e.as_service_error() {
                Some(service) => format!(
                    "{}: {}",
                    service.code().unwrap_or("unknown error"),
                    service.message().unwrap_or_default()
                ),
                None => DisplayErrorContext(&e).to_string(),
            };
            Err(format!("after {:.2} s: {why}", elapsed.as_secs_f64()).into())
        }
    };
    if let Some((_, server)) = emulator {
        server.shutdown().await;
    }
    outcome
}
