//! `aws sagemaker-runtime invoke-endpoint`, with boto3's patience for
//! multi-model endpoint cold starts, on a tower stack.
//!
//! ```text
//! cargo run --all-features --example invoke_endpoint -- \
//!     --endpoint-name demo --target-model model-3.tar.gz \
//!     --body "1.0,2.0,5.0" --content-type text/csv out.txt
//! ```
//!
//! - With neither `--endpoint-url` nor `--region` it starts this crate's
//!   multi-model endpoint emulator in-process on `127.0.0.1` with a few demo
//!   models, and calls it (signed; the emulator checks the signatures).
//! - With a region it calls the region's endpoint by the AWS SDK's endpoint
//!   rules (`https://runtime.sagemaker.{region}.amazonaws.com`, the China
//!   regions' `.amazonaws.com.cn`, FIPS and dual-stack variants), or
//!   `--endpoint-url`, signing with SigV4 and credentials from the default
//!   chain.
//! - Retries are botocore's legacy mode (it retries ModelNotReadyException);
//!   `--max-retries`, else `AWS_MAX_ATTEMPTS` or the profile's `max_attempts`
//!   (total attempts), set how many.
//! - An inference component scaled to zero (`--inference-component-name`)
//!   answers 400 "no capacity" while it scales out: the call retries it 10 to
//!   30 s apart until `--deadline` (600 s by default with a component).
//!
//! The response body goes to the output file; the response metadata is printed
//! as JSON on stdout, as the AWS CLI does; progress (each attempt, its outcome,
//! the wait before the next, the time left) goes to stderr.
//!
//! The layer stack is [`stack`], just below; the command-line plumbing
//! around it lives in `cli.rs` and the progress lines in `progress.rs`.

mod cli;
mod config;
#[path = "../common/demo.rs"]
mod demo;
mod progress;
mod tls;
#[path = "../common/cli.rs"]
mod values;

use std::process::ExitCode;
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::BodyExt;
use http_body_util::Full;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};
use tower_sagemaker::collect_body::CollectBodyLayer;
use tower_sagemaker::deadline::DeadlineLayer;
use tower_sagemaker::invoke_headers::InvokeHeadersLayer;
use tower_sagemaker::read_timeout::ReadTimeoutLayer;
use tower_sagemaker::retry::{LegacyRetries, ModelNotReadyRetryLayer};
use tower_sagemaker::sagemaker::MAX_PAYLOAD_BYTES;
use tower_sagemaker::scale_from_zero::NoCapacityLayer;
use tower_sagemaker::sigv4::SigV4Layer;
use tower_sagemaker::target_model::TargetModelLayer;

use cli::{Args, Failure};
use progress::Progress;

/// The stack, outermost first:
///
/// ```text
/// TargetModelLayer         sets X-Amzn-SageMaker-Target-Model
/// InvokeHeadersLayer       sets the request's other SageMaker headers (--target-variant, ...)
/// DeadlineLayer            one budget for the whole call, body included (--deadline)
/// ModelNotReadyRetryLayer  botocore legacy retries (--max-retries, AWS_MAX_ATTEMPTS, max_attempts),
///                          and an inference component's scale-out from zero ridden through
///   on_event               (this example) prints each attempt, from the layer's events
/// NoCapacityLayer          reads a 400 ValidationError's message: is it "no capacity"?
/// CollectBodyLayer         reads the body inside the attempt: a broken body is retried
/// ReadTimeoutLayer         bounds each wait for the head and each body frame (--cli-read-timeout)
/// SigV4Layer               signs each attempt afresh, target-model header included
/// hyper-util client        HTTP/1.1, rustls for https (--cli-connect-timeout, --ca-bundle)
/// ```
fn stack<C>(
    client: C,
    args: &Args,
    max_retries: u32,
    target_model: TargetModelLayer,
    signer: Option<SigV4Layer>,
    progress: Progress,
) -> impl Service<
    Request<Full<Bytes>>,
    Response = Response<impl Body<Data = Bytes, Error = BoxError>>,
    Error = BoxError,
>
where
    C: Service<Request<Full<Bytes>>, Response = Response<hyper::body::Incoming>, Error = BoxError>
        + Clone
        + Send
        + 'static,
    C::Future: Send + 'static,
{
    ServiceBuilder::new()
        .layer(target_model)
        .layer(InvokeHeadersLayer::per_request())
        .layer(DeadlineLayer::new(args.deadline()))
        // As the AWS CLI: no bound on a whole attempt, only on each wait for bytes.
        .layer(
            ModelNotReadyRetryLayer::new(
                LegacyRetries::new()
                    .max_retries(max_retries)
                    .scale_from_zero()
                    .on_event(progress.on_event()),
            )
            .no_attempt_timeout(),
        )
        .layer(NoCapacityLayer::new())
        .layer(CollectBodyLayer::new(MAX_PAYLOAD_BYTES))
        // `--cli-read-timeout 0`: no bound (a timeout beyond the clock's range never fires).
        .layer(ReadTimeoutLayer::new(
            args.read_timeout().unwrap_or(std::time::Duration::MAX),
        ))
        .option_layer(signer)
        .service(client)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match cli::parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let start = Instant::now();
    progress::init_tracing(args.debug);
    match run(args, start).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

async fn run(args: Args, start: Instant) -> Result<(), Failure> {
    let call = cli::prepare(&args).await?;
    let client = tls::http_client(&args)?.map_err(BoxError::from);

    let target_model = match call.target_model.clone() {
        Some(model) => TargetModelLayer::new(model),
        None => TargetModelLayer::per_request(),
    };
    // Made just before the call: its clock and the deadline start together.
    let progress = Progress::new(start, call.max_retries);
    let svc = stack(
        client,
        &args,
        call.max_retries,
        target_model,
        call.signer.clone(),
        progress.clone(),
    );
    cli::announce(&args, &call);

    let outcome = async {
        let (parts, body) = svc.oneshot(call.request).await?.into_parts();
        // In memory already, unless it is a retried error's body; the deadline still applies.
        let body = body.collect().await?.to_bytes();
        Ok::<_, BoxError>(Response::from_parts(parts, body))
    }
    .await;
    if let Some(server) = call.emulator {
        server.shutdown().await;
    }
    let response =
        outcome.map_err(|e| cli::explain_error(&*e, &progress, &args, &call.endpoint_url))?;
    cli::finish(response, &args, &progress, start)
}
