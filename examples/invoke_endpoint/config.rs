//! The settings of the environment and the shared AWS config files that the
//! AWS CLI reads for retries and endpoints, found as aws-config finds them
//! (the environment first, then the selected profile):
//!
//! - `AWS_MAX_ATTEMPTS` / `max_attempts`: total attempts, the first included;
//! - `AWS_RETRY_MODE` / `retry_mode`: ignored, the retries are botocore's legacy mode;
//! - `AWS_USE_FIPS_ENDPOINT` / `use_fips_endpoint` and
//!   `AWS_USE_DUALSTACK_ENDPOINT` / `use_dualstack_endpoint`: which endpoint of
//!   the region the SDK's endpoint rules give;
//! - `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`, `AWS_ENDPOINT_URL`, then the
//!   profile's `endpoint_url` (in its `services` section for `sagemaker-runtime`
//!   first): the endpoint URL when `--endpoint-url` is not given, unless
//!   `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` / `ignore_configured_endpoint_urls`
//!   is true.
//!
//! A profile named by `--profile` or `AWS_PROFILE` must exist.

use std::borrow::Cow;

use aws_runtime::env_config::file::EnvConfigFiles;
use aws_runtime::env_config::section::EnvConfigSections;
use aws_runtime::env_config::EnvConfigValue;
use aws_sdk_sagemakerruntime::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
use aws_types::os_shim_internal::{Env, Fs};

/// Retries after the first attempt when nothing sets them: botocore's legacy
/// default of 5 attempts.
pub const DEFAULT_MAX_RETRIES: u32 = 4;

/// A value and where it was set, in words (`AWS_MAX_ATTEMPTS`, or
/// `` `max_attempts` of profile `default` ``).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    pub value: T,
    pub from: String,
}

/// The settings found, each checked.
#[derive(Debug, Default)]
pub struct Configured {
    /// Total attempts (at least 1).
    pub max_attempts: Option<Setting<u32>>,
    /// `AWS_RETRY_MODE`, when set to anything but `legacy`.
    pub ignored_retry_mode: Option<String>,
    pub use_fips: Option<Setting<bool>>,
    pub use_dual_stack: Option<Setting<bool>>,
    /// The endpoint URL configured for SageMaker Runtime, checked as
    /// `--endpoint-url` is.
    pub endpoint_url: Option<Setting<String>>,
}

impl Configured {
    pub fn use_fips(&self) -> bool {
        self.use_fips.as_ref().is_some_and(|s| s.value)
    }

    pub fn use_dual_stack(&self) -> bool {
        self.use_dual_stack.as_ref().is_some_and(|s| s.value)
    }
}

/// The environment and the selected profile of the shared config and
/// credentials files (`--profile`, else `AWS_PROFILE`, else `default`;
/// `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE` move the files).
struct Sources {
    env: Env,
    profiles: EnvConfigSections,
}

impl Sources {
    async fn load(profile: Option<&str>) -> Result<Self, String> {
        let env = Env::real();
        let profiles = aws_config::profile::load(
            &Fs::real(),
            &env,
            &EnvConfigFiles::default(),
            profile.map(|p| Cow::Owned(p.to_owned())),
        )
        .await
        .map_err(|e| {
            format!(
                "cannot read the AWS config files: {}",
                crate::cli::chain(&e)
            )
        })?;
        // As the AWS CLI: a profile asked for by name must be there (the
        // `default` one may be missing).
        let named = profile.is_some() || env.get("AWS_PROFILE").is_ok();
        let selected = profiles.selected_profile();
        if named && profiles.get_profile(selected).is_none() {
            return Err(format!(
                "The config profile ({selected}) could not be found"
            ));
        }
        Ok(Self { env, profiles })
    }

    /// The raw value of a setting: the environment variable wins over the
    /// profile's key, as in the AWS CLI and aws-config.
    fn raw(&self, var: &str, key: &str) -> Option<Setting<String>> {
        if let Ok(value) = self.env.get(var) {
            return Some(Setting {
                value,
                from: var.to_owned(),
            });
        }
        let value = self.profiles.get(key)?;
        Some(Setting {
            value: value.to_owned(),
            from: format!("`{key}` of profile `{}`", self.profiles.selected_profile()),
        })
    }

    fn checked<T>(
        &self,
        var: &str,
        key: &str,
        parse: fn(&str) -> Result<T, String>,
    ) -> Result<Option<Setting<T>>, String> {
        let Some(raw) = self.raw(var, key) else {
            return Ok(None);
        };
        match parse(&raw.value) {
            Ok(value) => Ok(Some(Setting {
                value,
                from: raw.from,
            })),
            Err(why) => Err(format!("invalid {} {:?}: {why}", raw.from, raw.value)),
        }
    }
}

/// Reads and checks the settings. `attempts` is false when `--max-retries`
/// is given, `endpoint` when `--endpoint-url` is: the flag wins, and the
/// settings it overrides are not read.
pub async fn read(
    profile: Option<&str>,
    attempts: bool,
    endpoint: bool,
) -> Result<Configured, String> {
    let sources = Sources::load(profile).await?;
    let max_attempts = if attempts {
        sources.checked("AWS_MAX_ATTEMPTS", "max_attempts", parse_max_attempts)?
    } else {
        None
    };
    let ignored_retry_mode = sources
        .env
        .get("AWS_RETRY_MODE")
        .ok()
        .filter(|mode| !mode.trim().eq_ignore_ascii_case("legacy"));
    Ok(Configured {
        max_attempts,
        ignored_retry_mode,
        use_fips: sources.checked("AWS_USE_FIPS_ENDPOINT", "use_fips_endpoint", parse_bool)?,
        use_dual_stack: sources.checked(
            "AWS_USE_DUALSTACK_ENDPOINT",
            "use_dualstack_endpoint",
            parse_bool,
        )?,
        endpoint_url: match endpoint {
            true => endpoint_url(&sources)?,
            false => None,
        },
    })
}

/// SageMaker Runtime's service id, which names its own endpoint settings.
const SERVICE_ID: &str = "SageMaker Runtime";
/// The environment variable of SageMaker Runtime's own endpoint URL.
const SERVICE_ENDPOINT_URL_VAR: &str = "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME";

/// The configured endpoint URL, looked up as the AWS SDK for Rust looks it
/// up for this service (the service's variable, the global one, the
/// profile's service section, the profile), and checked.
fn endpoint_url(sources: &Sources) -> Result<Option<Setting<String>>, String> {
    let ignore = sources.checked(
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "ignore_configured_endpoint_urls",
        parse_bool,
    )?;
    if ignore.is_some_and(|s| s.value) {
        return Ok(None);
    }
    let Some((value, source)) = EnvConfigValue::new()
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .service_id(SERVICE_ID)
        .load(&sources.env, Some(&sources.profiles))
    else {
        return Ok(None);
    };
    let from = if sources.env.get(SERVICE_ENDPOINT_URL_VAR).is_ok() {
        SERVICE_ENDPOINT_URL_VAR.to_owned()
    } else if sources.env.get("AWS_ENDPOINT_URL").is_ok() {
        "AWS_ENDPOINT_URL".to_owned()
    } else {
        format!("{source}")
    };
    match crate::values::parse_endpoint_url(&value) {
        Ok(url) => Ok(Some(Setting { value: url, from })),
        Err(why) => Err(format!("invalid {from} {value:?}: {why}")),
    }
}

/// Total attempts, the first included: a whole number from 1.
pub fn parse_max_attempts(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(0) => Err("attempts count the first one: give 1 or more".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("not a whole number of attempts (1 or more)".into()),
    }
}

/// `true` or `false`, in any case, as aws-config reads these settings.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if s.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err("give true or false".into())
    }
}

/// The endpoint of SageMaker Runtime in `region`, by the endpoint rules of
/// aws-sdk-sagemakerruntime (its own resolver): the region's partition
/// decides the domain (`amazonaws.com`, `amazonaws.com.cn`, ...), FIPS and
/// dual-stack pick the variant.
pub async fn region_endpoint(region: &str, fips: bool, dual_stack: bool) -> Result<String, String> {
    let params = Params::builder()
        .region(region)
        .use_fips(fips)
        .use_dual_stack(dual_stack)
        .build()
        .map_err(|e| e.to_string())?;
    let endpoint = DefaultResolver::new()
        .resolve_endpoint(&params)
        .await
        .map_err(|e| e.to_string())?;
    Ok(endpoint.url().to_owned())
}
