//! The command line around the stack: arguments as the AWS CLI spells them,
//! where the call goes and with which credentials, and what is printed at
//! the end.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aws_config::meta::region::RegionProviderChain;
use aws_config::BehaviorVersion;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Request, Response};
use http_body_util::Full;
use tower_sagemaker::deadline::DeadlineExceeded;
use tower_sagemaker::emulator::{ComponentSpec, Emulator, Server};
use tower_sagemaker::invoke_headers::{InvokeHeader, InvokeHeaders};
use tower_sagemaker::read_timeout::ReadTimedOut;
use tower_sagemaker::retry::{AttemptTimedOut, Attempts};
use tower_sagemaker::sagemaker::{
    check_invoke_header, invocations_path, is_valid_endpoint_name, InvalidHeaderValue,
    CLOSED_SESSION_ID_HEADER, CUSTOM_ATTRIBUTES_HEADER, INVOKED_PRODUCTION_VARIANT_HEADER,
    MAX_LOAD_TIME, NEW_SESSION_ID_HEADER, SCALE_FROM_ZERO_BUDGET,
};
use tower_sagemaker::sigv4::{SigV4Layer, SigningError};
use tower_sagemaker::target_model::TargetModel;
use tower_sagemaker::ErrorCode;

use crate::config::{self, Configured, DEFAULT_MAX_RETRIES};
use crate::demo::{describe_demo_models, with_demo_models};
use crate::progress::{secs, stamp, Progress};
use crate::values::{parse_duration, parse_endpoint_url, parse_positive_duration, parse_region};

/// Invoke a SageMaker endpoint, riding through multi-model endpoint cold starts.
///
/// Mirrors `aws sagemaker-runtime invoke-endpoint`, with boto3's retries of
/// ModelNotReadyException and one deadline for the whole call. Credentials and
/// region come from where every AWS tool finds them (environment, shared
/// config and credentials files, --profile, SSO, credential_process, ...).
/// With neither a region nor an endpoint URL it runs against an embedded
/// multi-model endpoint emulator with demo models.
///
/// Retries: botocore's legacy mode, whatever AWS_RETRY_MODE or a profile's
/// retry_mode say. The AWS CLI v2 defaults to the standard mode, which does
/// not retry ModelNotReadyException (a 429 without a throttling code), so a
/// multi-model endpoint's cold start fails there at once. The number of
/// attempts is --max-retries plus one; without the flag, AWS_MAX_ATTEMPTS,
/// then the profile's max_attempts (both count all attempts, the first
/// included, as in the AWS CLI); without either, 5.
///
/// Endpoint: for a region, the URL the endpoint rules of the AWS SDK for
/// Rust give (https://runtime.sagemaker.us-east-1.amazonaws.com,
/// https://runtime.sagemaker.cn-north-1.amazonaws.com.cn, ...), FIPS and
/// dual-stack by AWS_USE_FIPS_ENDPOINT and AWS_USE_DUALSTACK_ENDPOINT, or the
/// profile's use_fips_endpoint and use_dualstack_endpoint; --debug prints it.
/// --endpoint-url is used as given; without it, an endpoint URL configured as
/// the AWS SDK for Rust finds one (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME,
/// AWS_ENDPOINT_URL, the profile's services section or endpoint_url; none
/// with AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true). A call to an endpoint URL
/// goes unsigned when no credentials are found at all; signed, it needs a
/// region.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Exit status: 0 success; 252 invalid arguments (an unknown flag, a bad \
                  value such as an endpoint URL or region that no request could use), \
                  before any request; 253 no credentials or invalid configuration (a \
                  region, AWS_MAX_ATTEMPTS, max_attempts, FIPS, dual-stack or endpoint \
                  URL setting from the environment or profile, or a profile that is \
                  not there, included); 254 the service \
                  answered an error; 255 any other error (connection, timeout, deadline). \
                  As AWS CLI v2."
)]
pub struct Args {
    /// Name of the endpoint.
    #[arg(long)]
    pub endpoint_name: String,

    /// Request payload, as text; `fileb://PATH` or `file://PATH` reads a file.
    #[arg(long)]
    body: String,

    /// MIME type of the payload.
    #[arg(long)]
    content_type: Option<String>,

    /// Desired MIME type of the response.
    #[arg(long)]
    accept: Option<String>,

    /// Model of a multi-model endpoint to invoke (its path relative to the S3 prefix).
    #[arg(long)]
    target_model: Option<String>,

    /// Production variant to invoke.
    #[arg(long)]
    target_variant: Option<String>,

    /// Container of a multi-container endpoint to invoke.
    #[arg(long)]
    target_container_hostname: Option<String>,

    /// Identifier of the call, for model monitoring.
    #[arg(long)]
    inference_id: Option<String>,

    /// JMESPath expression that filters explanations (e.g. `true`).
    #[arg(long)]
    enable_explanations: Option<String>,

    /// Inference component to invoke. One scaled to zero answers 400 "no
    /// capacity" while it scales out; the call rides that through, retrying
    /// 10 to 30 s apart until --deadline.
    #[arg(long, visible_alias = "inference-component", value_name = "NAME")]
    pub inference_component_name: Option<String>,

    /// Stateful session: an id, or NEW_SESSION to open one.
    #[arg(long)]
    session_id: Option<String>,

    /// Opaque data forwarded to the model container.
    #[arg(long)]
    custom_attributes: Option<String>,

    /// Endpoint URL, http:// or https:// [default: AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME,
    /// AWS_ENDPOINT_URL or the profile's endpoint_url; else the region's, by the SDK's endpoint rules].
    #[arg(long, value_parser = parse_endpoint_url)]
    endpoint_url: Option<String>,

    /// AWS region to call and sign for (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's).
    #[arg(long, value_parser = parse_region)]
    region: Option<String>,

    /// Named profile of the shared config and credentials files.
    #[arg(long)]
    profile: Option<String>,

    /// Retries after the first attempt, as botocore's `retries={'max_attempts': N}`
    /// [default: AWS_MAX_ATTEMPTS or the profile's max_attempts, minus one; else 4].
    #[arg(long, value_name = "N")]
    pub max_retries: Option<u32>,

    /// Longest wait for bytes (the response head, each body frame): seconds or with a unit;
    /// 0 waits for ever, as in the AWS CLI.
    #[arg(long, visible_alias = "read-timeout", default_value = "70", value_parser = parse_duration)]
    cli_read_timeout: Duration,

    /// Longest wait to connect: seconds or with a unit; 0 waits for ever, as in the AWS CLI.
    #[arg(long, default_value = "60", value_parser = parse_duration)]
    cli_connect_timeout: Duration,

    /// Budget of the whole call, retries and waits included: seconds or with a unit, more than 0
    /// [default: 360; 600 with --inference-component-name, to cover a scale-out from zero].
    #[arg(long = "deadline", value_name = "DEADLINE", value_parser = parse_positive_duration)]
    deadline_arg: Option<Duration>,

    /// Do not verify TLS certificates (as the AWS CLI's --no-verify-ssl: for tests only).
    #[arg(long)]
    pub no_verify_ssl: bool,

    /// PEM file of CA certificates to trust instead of the bundled Mozilla roots.
    #[arg(long, value_name = "PATH")]
    pub ca_bundle: Option<PathBuf>,

    /// Log the layers' and the HTTP client's debug events to stderr.
    #[arg(long)]
    pub debug: bool,

    /// Format of the response metadata on stdout.
    #[arg(long, value_enum, default_value_t = Output::Json)]
    pub output: Output,

    /// File the response body is written to.
    pub outfile: PathBuf,
}

impl Args {
    /// The longest wait for bytes; `None` (no bound) for `--cli-read-timeout 0`.
    pub fn read_timeout(&self) -> Option<Duration> {
        Some(self.cli_read_timeout).filter(|t| !t.is_zero())
    }

    /// The longest wait to connect; `None` (no bound) for `--cli-connect-timeout 0`.
    pub fn connect_timeout(&self) -> Option<Duration> {
        Some(self.cli_connect_timeout).filter(|t| !t.is_zero())
    }

    /// The budget of the whole call: `--deadline`, else the default for
    /// what is invoked (a scale-out from zero takes minutes).
    pub fn deadline(&self) -> Duration {
        match (self.deadline_arg, &self.inference_component_name) {
            (Some(deadline), _) => deadline,
            (None, Some(_)) => SCALE_FROM_ZERO_BUDGET,
            (None, None) => MAX_LOAD_TIME,
        }
    }
}

/// The AWS CLI's output formats, of those that fit one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A JSON object of the response members.
    Json,
    /// The members' values, tab-separated, on one line.
    Text,
}

/// Parses the command line; on a usage error, prints it and returns the exit code.
pub fn parse_args() -> Result<Args, ExitCode> {
    Args::try_parse().map_err(|e| {
        let code = if e.use_stderr() { 252 } else { 0 };
        let _ = e.print();
        ExitCode::from(code)
    })
}

/// Credentials the in-process emulator checks signatures against.
const DEMO_ACCESS_KEY: &str = "AKIDEMULATOR";
const DEMO_SECRET_KEY: &str = "emulator-secret-key";
const DEMO_REGION: &str = "us-east-1";
/// How long the embedded emulator holds a call for a loading model.
const DEMO_HOLD: Duration = Duration::from_millis(1500);
/// How long the embedded emulator's component takes to scale out from zero.
const DEMO_SCALE_OUT: Duration = Duration::from_secs(5);

/// Why the program failed, by the AWS CLI's exit codes.
pub enum Failure {
    /// Invalid arguments (252).
    Usage(String),
    /// No credentials, or invalid configuration (253).
    Config(String),
    /// The endpoint answered with an error response (254).
    Service(String),
    /// Anything else: transport, timeouts, the deadline (255).
    Other(String),
}

impl Failure {
    /// Prints the message and gives the exit code.
    pub fn report(self) -> ExitCode {
        let (code, message) = match self {
            Failure::Usage(m) => (252, format!("error: {m}")),
            Failure::Config(m) => (253, format!("error: {m}")),
            Failure::Service(m) => (254, m),
            Failure::Other(m) => (255, format!("error: {m}")),
        };
        eprintln!("\n{message}");
        ExitCode::from(code)
    }
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Other(e.to_string())
    }
}

/// A call ready to go: its request, where it goes and how it is signed.
pub struct Call {
    pub request: Request<Full<Bytes>>,
    pub target_model: Option<TargetModel>,
    pub signer: Option<SigV4Layer>,
    pub endpoint_url: String,
    /// The embedded emulator, when the call goes to it.
    pub emulator: Option<Server>,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Where they were set, when not by --max-retries or the default.
    pub max_retries_from: Option<String>,
}

/// Checks the arguments and builds the request; starts the emulator when
/// neither a region nor `--endpoint-url` is given.
pub async fn prepare(args: &Args) -> Result<Call, Failure> {
    if !is_valid_endpoint_name(&args.endpoint_name) {
        return Err(Failure::Usage(format!(
            "invalid --endpoint-name `{}`: 1 to 63 letters, digits and inner hyphens",
            args.endpoint_name
        )));
    }
    let target_model = args
        .target_model
        .as_deref()
        .map(TargetModel::new)
        .transpose()
        .map_err(|e| Failure::Usage(format!("--target-model: {e}")))?;
    let headers = plain_headers(args)?;
    let sagemaker_headers = invoke_headers(args)?;
    let payload = read_body(&args.body)?;

    // Where to send the call, and how to sign it.
    let region = find_region(args).await?;
    let configured = read_configuration(args).await?;
    let (max_retries, max_retries_from) = match (args.max_retries, &configured.max_attempts) {
        (Some(n), _) => (n, None),
        (None, Some(attempts)) => (attempts.value - 1, Some(attempts.from.clone())),
        (None, None) => (DEFAULT_MAX_RETRIES, None),
    };
    let configured_url = configured.endpoint_url.as_ref().map(|setting| {
        eprintln!("Endpoint URL from {}: {}", setting.from, setting.value);
        &setting.value
    });
    let mut emulator = None;
    let (endpoint_url, signer) = match (args.endpoint_url.as_ref().or(configured_url), region) {
        (None, None) => {
            let component = args.inference_component_name.as_deref();
            let (server, url) = start_emulator(&args.endpoint_name, component).await?;
            emulator = Some(server);
            let credentials =
                Credentials::new(DEMO_ACCESS_KEY, DEMO_SECRET_KEY, None, None, "demo");
            (url, Some(SigV4Layer::new(credentials, DEMO_REGION)))
        }
        (Some(url), region) => {
            // A custom endpoint (a local emulator, say) may take unsigned
            // calls: without credentials anywhere, they go unsigned. Broken
            // credentials are an error, as everywhere else.
            let signer = match find_credentials(args, max_retries).await? {
                Some(credentials) => {
                    let region = region.ok_or_else(|| {
                        Failure::Config(
                            "You must specify a region to sign for: --region, AWS_REGION or \
                             AWS_DEFAULT_REGION, or region in the profile."
                                .into(),
                        )
                    })?;
                    Some(SigV4Layer::new(credentials, region))
                }
                None => {
                    eprintln!("No AWS credentials found: sending unsigned requests to {url}");
                    None
                }
            };
            (url.clone(), signer)
        }
        (None, Some(region)) => {
            let url = region_endpoint(&region, &configured).await?;
            let credentials = find_credentials(args, max_retries)
                .await?
                .ok_or_else(|| Failure::Config(NO_CREDENTIALS.into()))?;
            (url, Some(SigV4Layer::new(credentials, region)))
        }
    };

    let uri = format!(
        "{}{}",
        endpoint_url.trim_end_matches('/'),
        invocations_path(&args.endpoint_name)
    );
    let mut request = Request::post(&uri);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let mut request = request
        .body(Full::new(payload))
        .map_err(|e| Failure::Usage(format!("invalid --endpoint-url `{endpoint_url}`: {e}")))?;
    request.extensions_mut().insert(sagemaker_headers);
    Ok(Call {
        request,
        target_model,
        signer,
        endpoint_url,
        emulator,
        max_retries,
        max_retries_from,
    })
}

/// The retry and endpoint settings of the environment and the profile, each
/// checked before anything is sent; a bad one is a configuration error (253).
async fn read_configuration(args: &Args) -> Result<Configured, Failure> {
    let configured = config::read(
        args.profile.as_deref(),
        args.max_retries.is_none(),
        args.endpoint_url.is_none(),
    )
    .await
    .map_err(Failure::Config)?;
    if let Some(mode) = &configured.ignored_retry_mode {
        eprintln!(
            "AWS_RETRY_MODE={mode:?} is ignored: this command retries in botocore's legacy mode, \
             as the standard and adaptive modes do not retry ModelNotReadyException"
        );
    }
    Ok(configured)
}

/// The region's endpoint by the SDK's endpoint rules, with the FIPS and
/// dual-stack settings; `--debug` prints it and where it came from.
async fn region_endpoint(region: &str, configured: &Configured) -> Result<String, Failure> {
    let (fips, dual_stack) = (configured.use_fips(), configured.use_dual_stack());
    let url = config::region_endpoint(region, fips, dual_stack)
        .await
        .map_err(|e| {
            Failure::Config(format!(
                "no SageMaker Runtime endpoint for region {region} (FIPS {}, dual-stack {}): {e}",
                on_off(fips),
                on_off(dual_stack)
            ))
        })?;
    let from = |s: &Option<config::Setting<bool>>| {
        s.as_ref()
            .map(|s| format!(" ({})", s.from))
            .unwrap_or_default()
    };
    tracing::debug!(
        "endpoint for region {region}, FIPS {}{}, dual-stack {}{}, by the SDK's endpoint rules: {url}",
        on_off(fips),
        from(&configured.use_fips),
        on_off(dual_stack),
        from(&configured.use_dual_stack),
    );
    Ok(url)
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// `Content-Type` and `Accept`, as given.
fn plain_headers(args: &Args) -> Result<Vec<(HeaderName, HeaderValue)>, Failure> {
    let flags = [
        (CONTENT_TYPE, &args.content_type, "--content-type"),
        (ACCEPT, &args.accept, "--accept"),
    ];
    let mut headers = Vec::new();
    for (name, value, flag) in flags {
        let Some(value) = value else { continue };
        check_invoke_header(&name, value).map_err(|e| Failure::Usage(format!("{flag}: {e}")))?;
        let value = HeaderValue::try_from(value.as_str())
            .map_err(|_| Failure::Usage(format!("{flag}: not a valid header value")))?;
        headers.push((name, value));
    }
    Ok(headers)
}

/// SageMaker's own headers, each checked as the service checks it; the
/// stack's `InvokeHeadersLayer` puts them on the request.
fn invoke_headers(args: &Args) -> Result<InvokeHeaders, Failure> {
    type Checked = fn(&str) -> Result<InvokeHeader, InvalidHeaderValue>;
    let flags: [(&Option<String>, &str, Checked); 7] = [
        (
            &args.custom_attributes,
            "--custom-attributes",
            InvokeHeader::custom_attributes,
        ),
        (
            &args.target_variant,
            "--target-variant",
            InvokeHeader::target_variant,
        ),
        (
            &args.target_container_hostname,
            "--target-container-hostname",
            InvokeHeader::target_container_hostname,
        ),
        (
            &args.inference_id,
            "--inference-id",
            InvokeHeader::inference_id,
        ),
        (
            &args.enable_explanations,
            "--enable-explanations",
            InvokeHeader::enable_explanations,
        ),
        (
            &args.inference_component_name,
            "--inference-component-name",
            InvokeHeader::inference_component,
        ),
        (&args.session_id, "--session-id", InvokeHeader::session_id),
    ];
    let mut headers = InvokeHeaders::new();
    for (value, flag, checked) in flags {
        if let Some(value) = value {
            let header = checked(value).map_err(|e| Failure::Usage(format!("{flag}: {e}")))?;
            headers = headers.with(header);
        }
    }
    Ok(headers)
}

/// The region as the AWS CLI finds it: --region, then `AWS_REGION` /
/// `AWS_DEFAULT_REGION`, then the profile's. No instance metadata: a machine
/// without AWS configuration runs against the embedded emulator at once.
async fn find_region(args: &Args) -> Result<Option<String>, Failure> {
    if let Some(region) = &args.region {
        return Ok(Some(region.clone()));
    }
    let mut profile = aws_config::profile::ProfileFileRegionProvider::builder();
    if let Some(name) = &args.profile {
        profile = profile.profile_name(name);
    }
    let chain = RegionProviderChain::first_try(
        aws_config::environment::EnvironmentVariableRegionProvider::new(),
    )
    .or_else(profile.build());
    let Some(region) = chain.region().await else {
        return Ok(None);
    };
    // Checked as --region is: the configuration is wrong, not the arguments.
    parse_region(region.as_ref()).map(Some).map_err(|e| {
        Failure::Config(format!(
            "{e} (from AWS_REGION, AWS_DEFAULT_REGION or the profile)"
        ))
    })
}

/// Credentials from the default chain (environment, profile, SSO,
/// credential_process, web identity, container and instance metadata).
///
/// The retry settings are given to the loader: it would otherwise read
/// AWS_MAX_ATTEMPTS and AWS_RETRY_MODE again (for the STS and SSO clients of
/// the chain), and panic on a value it cannot parse.
async fn find_credentials(args: &Args, max_retries: u32) -> Result<Option<Credentials>, Failure> {
    let retry =
        aws_config::retry::RetryConfig::standard().with_max_attempts(max_retries.saturating_add(1));
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry);
    if let Some(name) = &args.profile {
        loader = loader.profile_name(name);
    }
    let config = loader.load().await;
    let Some(provider) = config.credentials_provider() else {
        return Ok(None);
    };
    match provider.provide_credentials().await {
        Ok(credentials) => Ok(Some(credentials)),
        // No source had any: not an error where unsigned calls may do.
        Err(CredentialsError::CredentialsNotLoaded(_)) => Ok(None),
        Err(e) => Err(Failure::Config(format!(
            "Unable to load credentials: {}",
            chain(&e)
        ))),
    }
}

/// The AWS CLI's words for a call that must be signed and has no credentials.
const NO_CREDENTIALS: &str =
    "Unable to locate credentials. You can configure credentials by running \"aws configure\".";

/// The line that says what is about to happen.
pub fn announce(args: &Args, call: &Call) {
    let attempts_max = call.max_retries.saturating_add(1);
    eprintln!(
        "Invoking endpoint `{}`{}{} at {}: up to {} attempt{}{}, {}, {} in all{}",
        args.endpoint_name,
        call.target_model
            .as_ref()
            .map(|m| format!(" (target model `{m}`)"))
            .unwrap_or_default(),
        args.inference_component_name
            .as_ref()
            .map(|c| format!(" (inference component `{c}`, riding a scale-out from zero)"))
            .unwrap_or_default(),
        call.endpoint_url,
        attempts_max,
        if attempts_max == 1 { "" } else { "s" },
        call.max_retries_from
            .as_ref()
            .map(|from| format!(" ({from})"))
            .into_iter()
            .chain(
                args.inference_component_name
                    .as_ref()
                    .map(|_| " (no-capacity answers: until the deadline)".to_owned()),
            )
            .collect::<String>(),
        match args.read_timeout() {
            Some(t) => format!("reads within {} each", secs(t)),
            None => "reads without a time limit".to_owned(),
        },
        secs(args.deadline()),
        match &call.signer {
            Some(s) => format!(
                ", signed for {} as {}",
                s.get_region(),
                s.get_access_key_id()
            ),
            None => String::new(),
        },
    );
}

/// The body argument: text, or a file with `fileb://` / `file://`.
fn read_body(arg: &str) -> Result<Bytes, Failure> {
    match arg
        .strip_prefix("fileb://")
        .or_else(|| arg.strip_prefix("file://"))
    {
        Some(path) => std::fs::read(path)
            .map(Bytes::from)
            .map_err(|e| Failure::Usage(format!("--body: Unable to load paramfile {path}: {e}"))),
        None => Ok(Bytes::copy_from_slice(arg.as_bytes())),
    }
}

async fn start_emulator(
    endpoint_name: &str,
    component: Option<&str>,
) -> Result<(Server, String), Failure> {
    let builder = Emulator::builder()
        .endpoint(endpoint_name)
        .hold_timeout(DEMO_HOLD)
        .credentials(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
        .region(DEMO_REGION);
    // The endpoint hosts the component named, at zero copies, or the demo models.
    let builder = match component {
        Some(name) => builder
            .inference_component(
                name,
                ComponentSpec::new()
                    .endpoint(endpoint_name)
                    .scale_out_time(DEMO_SCALE_OUT),
            )
            .map_err(|e| Failure::Usage(format!("--inference-component-name: {e}")))?,
        None => with_demo_models(builder),
    };
    let emulator = builder.build();
    let server = emulator
        .serve(([127, 0, 0, 1], 0).into())
        .await
        .map_err(|e| format!("cannot start the emulator on 127.0.0.1: {e}"))?;
    let url = server.endpoint_url().to_string();
    eprintln!(
        "No region (--region, AWS_REGION, AWS_DEFAULT_REGION, profile) and no --endpoint-url: \
         using the built-in multi-model endpoint emulator at {url}"
    );
    match component {
        Some(name) => eprintln!(
            "  endpoint `{endpoint_name}`, inference component `{name}` at zero copies; it scales out {} after the first call that finds no copy",
            secs(DEMO_SCALE_OUT),
        ),
        None => eprintln!(
            "  endpoint `{endpoint_name}`, models {}; it holds a call for a loading model {} before answering 429 ModelNotReadyException",
            describe_demo_models(),
            secs(DEMO_HOLD),
        ),
    }
    Ok((server, url))
}

/// Writes the body and prints the metadata, or turns an error response into
/// the AWS CLI's message.
pub fn finish(
    response: Response<Bytes>,
    args: &Args,
    progress: &Progress,
    start: Instant,
) -> Result<(), Failure> {
    let attempts = response
        .extensions()
        .get::<Attempts>()
        .map_or(1, Attempts::count);
    let status = response.status();
    let headers = response.headers();
    if !status.is_success() {
        // Where botocore finds the code, cut as it cuts one (`ns#Code:uri`).
        let code = ErrorCode::from_headers(headers)
            .map(|c| c.as_str().to_owned())
            .or_else(|| {
                let raw = json_field(response.body(), &["code", "Code", "__type"])?;
                ErrorCode::parse(&raw).map(|c| c.as_str().to_owned())
            })
            .unwrap_or_else(|| status.as_u16().to_string());
        let message = json_field(response.body(), &["message", "Message"])
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned());
        // botocore says so only when the retries ran out, not when the
        // deadline or a non-retryable answer ended the call.
        let retries = if progress.retries_exhausted() {
            format!(" (reached max retries: {})", attempts.saturating_sub(1))
        } else {
            String::new()
        };
        return Err(Failure::Service(format!(
            "An error occurred ({code}) when calling the InvokeEndpoint operation{retries}: {message}"
        )));
    }

    let outfile = &args.outfile;
    std::fs::write(outfile, response.body())
        .map_err(|e| format!("cannot write {}: {e}", outfile.display()))?;
    eprintln!(
        "[{}] done after {attempts} attempt{}: wrote {} bytes to {}",
        stamp(start),
        if attempts == 1 { "" } else { "s" },
        response.body().len(),
        outfile.display()
    );

    // Output members in the order of the service model, as the CLI prints them.
    let members: [(&str, HeaderName); 5] = [
        ("ContentType", CONTENT_TYPE),
        (
            "InvokedProductionVariant",
            INVOKED_PRODUCTION_VARIANT_HEADER,
        ),
        ("CustomAttributes", CUSTOM_ATTRIBUTES_HEADER),
        ("NewSessionId", NEW_SESSION_ID_HEADER),
        ("ClosedSessionId", CLOSED_SESSION_ID_HEADER),
    ];
    let present: Vec<(&str, String)> = members
        .iter()
        .filter_map(|(member, header)| {
            let value = headers.get(header)?;
            Some((
                *member,
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ))
        })
        .collect();
    println!("{}", render(&present, args.output));
    Ok(())
}

/// The response members as the AWS CLI prints them.
fn render(members: &[(&str, String)], output: Output) -> String {
    match output {
        Output::Text => members
            .iter()
            .map(|(_, value)| value.as_str())
            .collect::<Vec<_>>()
            .join("\t"),
        Output::Json => {
            let mut out = String::from("{");
            for (i, (member, value)) in members.iter().enumerate() {
                let _ = write!(
                    out,
                    "{}\n    {}: {}",
                    if i == 0 { "" } else { "," },
                    serde_json::Value::from(*member),
                    serde_json::Value::from(value.as_str())
                );
            }
            out.push_str(if members.is_empty() { "}" } else { "\n}" });
            out
        }
    }
}

pub fn json_field(body: &[u8], names: &[&str]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    names
        .iter()
        .find_map(|n| value.get(n)?.as_str().map(str::to_owned))
}

/// A failed call in words a person can act on.
pub fn explain_error(
    err: &(dyn std::error::Error + 'static),
    progress: &Progress,
    args: &Args,
    endpoint_url: &str,
) -> Failure {
    let attempts = progress.attempt.load(Ordering::SeqCst);
    let tries = format!("{attempts} attempt{}", if attempts == 1 { "" } else { "s" });
    if let Some(exceeded) = err.downcast_ref::<DeadlineExceeded>() {
        let what = match progress.scaling_out() {
            true => "An inference component that is scaling out keeps scaling out",
            false => "A model that is still loading keeps loading",
        };
        return Failure::Other(format!(
            "gave up after {} ({tries}): the --deadline of {} passed. \
             {what}; try again later or raise --deadline.",
            secs(exceeded.elapsed()),
            secs(args.deadline()),
        ));
    }
    if err.downcast_ref::<ReadTimedOut>().is_some()
        || err.downcast_ref::<AttemptTimedOut>().is_some()
    {
        return Failure::Other(format!(
            "Read timeout on endpoint URL: \"{endpoint_url}\" (no bytes within --cli-read-timeout {}; {tries})",
            secs(args.cli_read_timeout)
        ));
    }
    if err.downcast_ref::<SigningError>().is_some() {
        return Failure::Config(chain(err));
    }
    if is_connect_error(err) {
        return Failure::Other(format!(
            "Could not connect to the endpoint URL: \"{endpoint_url}\" ({tries}: {})",
            chain(err)
        ));
    }
    Failure::Other(format!(
        "Connection to the endpoint URL \"{endpoint_url}\" failed ({tries}): {}",
        chain(err)
    ))
}

/// Whether the error chain holds hyper-util's "could not connect".
fn is_connect_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(e) = e.downcast_ref::<hyper_util::client::legacy::Error>() {
            return e.is_connect();
        }
        next = e.source();
    }
    false
}

/// An error and its sources on one line.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let _ = write!(text, ": {e}");
        source = e.source();
    }
    text
}
