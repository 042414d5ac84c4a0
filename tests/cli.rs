//! The example binaries as a user runs them: exit codes, messages, output.
//! No real AWS: every run gets an empty AWS configuration, so with no
//! `--endpoint-url` `invoke_endpoint` uses its embedded emulator.
#![cfg(all(
    feature = "emulator",
    feature = "sigv4",
    feature = "aws-sdk-sagemakerruntime"
))]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

mod support;

/// An example binary, built once per test run.
fn binary(name: &'static str) -> PathBuf {
    static BUILT: OnceLock<std::sync::Mutex<std::collections::HashMap<&str, PathBuf>>> =
        OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap();
    built
        .entry(name)
        .or_insert_with(|| support::example(name).unwrap_or_else(|e| panic!("{e}")))
        .clone()
}

/// `name` with no AWS configuration from the environment or the home directory.
fn command(name: &'static str) -> Command {
    let (target, _) = support::target_and_profile();
    let empty = target.join("cli-empty-aws-config");
    std::fs::write(&empty, "").unwrap();
    let mut cmd = Command::new(binary(name));
    for var in [
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "AWS_MAX_ATTEMPTS",
        "AWS_RETRY_MODE",
        "AWS_USE_FIPS_ENDPOINT",
        "AWS_USE_DUALSTACK_ENDPOINT",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_CONFIG_FILE", &empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", &empty)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn outfile(name: &str) -> PathBuf {
    let (target, _) = support::target_and_profile();
    let dir = target.join("cli-out");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn invoke(args: &[&str]) -> Run {
    run(command("invoke_endpoint")
        .args(["--endpoint-name", "demo"])
        .args(args))
}

#[test]
fn invoke_endpoint_calls_the_embedded_emulator_without_aws_configuration() {
    let out = outfile("ok.txt");
    let r = invoke(&[
        "--target-model",
        "model-1.tar.gz",
        "--body",
        "1.0,2.0,5.0",
        "--content-type",
        "text/csv",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "8.0");
    assert!(
        r.stderr.contains("built-in multi-model endpoint emulator"),
        "{}",
        r.stderr
    );
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["ContentType"], "text/csv");
    assert_eq!(json["InvokedProductionVariant"], "AllTraffic");
}

#[test]
fn invoke_endpoint_prints_text_output() {
    let out = outfile("text.txt");
    let r = invoke(&[
        "--target-model",
        "model-1.tar.gz",
        "--body",
        "1,2",
        "--content-type",
        "text/csv",
        "--target-variant",
        "AllTraffic",
        "--output",
        "text",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "text/csv\tAllTraffic\n");
}

#[test]
fn invoke_endpoint_usage_errors_exit_252_and_name_the_flag() {
    let out = outfile("unused.txt");
    let out = out.to_str().unwrap();
    for (args, says) in [
        (vec!["--body", "1", "--no-such-flag", out], "--no-such-flag"),
        (
            vec!["--body", "1", "--target-variant=-bad", out],
            "--target-variant",
        ),
        (
            vec!["--body", "1", "--inference-id", " x", out],
            "--inference-id",
        ),
        (
            vec!["--body", "1", "--session-id", "two words", out],
            "--session-id",
        ),
        (
            vec!["--body", "1", "--target-model", "", out],
            "--target-model",
        ),
        (vec!["--body", "fileb:///no/such/file", out], "--body"),
        (
            vec!["--body", "1", "--cli-read-timeout", "soon", out],
            "--cli-read-timeout",
        ),
        (
            vec!["--body", "1", "--deadline", "0", out],
            "it must be more than 0",
        ),
    ] {
        let r = invoke(&args);
        assert_eq!(r.code, 252, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn invoke_endpoint_service_errors_exit_254_with_the_cli_message() {
    let out = outfile("unused.txt");
    let r = invoke(&[
        "--target-model",
        "no-such-model.tar.gz",
        "--body",
        "1",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 254, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "An error occurred (ValidationError) when calling the InvokeEndpoint operation"
        ),
        "{}",
        r.stderr
    );
}

/// A component at zero in the embedded emulator: the first answer is "no
/// capacity", announced as a scale-out; with a deadline shorter than the
/// pacing the call gives up at once with the service's error (no real wait).
#[test]
fn invoke_endpoint_announces_a_scale_out_from_zero_and_keeps_to_the_deadline() {
    let out = outfile("unused-ic.txt");
    let r = invoke(&[
        "--inference-component",
        "ic-demo",
        "--deadline",
        "2s",
        "--body",
        "1.0,2.0,5.0",
        "--content-type",
        "text/csv",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 254, "{}", r.stderr);
    for line in [
        "inference component `ic-demo` at zero copies",
        "(inference component `ic-demo`, riding a scale-out from zero)",
        "(no-capacity answers: until the deadline)",
        "attempt 1/5: 400 ValidationError",
        "inference component `ic-demo` has no copy yet: it is scaling out from zero",
        "not retrying: the next wait would end after the deadline",
        "An error occurred (ValidationError) when calling the InvokeEndpoint operation: Inference Component has no capacity to process this request.",
    ] {
        assert!(r.stderr.contains(line), "{line:?} not in:\n{}", r.stderr);
    }
}

#[test]
fn invoke_endpoint_connect_errors_exit_255_and_name_the_url() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = outfile("unused.txt");
    let r = invoke(&[
        "--endpoint-url",
        &url,
        "--max-retries",
        "0",
        "--body",
        "1",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 255, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("Could not connect to the endpoint URL: \"{url}\"")),
        "{}",
        r.stderr
    );
}

#[test]
fn invoke_endpoint_help_documents_the_exit_codes() {
    let r = run(command("invoke_endpoint").arg("--help"));
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("Invoke a SageMaker endpoint"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("252") && r.stdout.contains("254"),
        "{}",
        r.stdout
    );
    for flag in [
        "--target-variant",
        "--target-container-hostname",
        "--inference-id",
        "--enable-explanations",
        "--inference-component-name",
        "--session-id",
        "--cli-read-timeout",
        "--cli-connect-timeout",
        "--no-verify-ssl",
        "--ca-bundle",
        "--debug",
        "--output",
        "--profile",
    ] {
        assert!(r.stdout.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn mme_emulator_serves_the_demo_models_by_default() {
    let mut child = command("mme_emulator")
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    assert!(
        stderr.contains("serving the demo models") && stderr.contains("model-3.tar.gz"),
        "{stderr}"
    );
}

#[test]
fn mme_emulator_refuses_a_size_without_a_unit() {
    let r = run(command("mme_emulator").args(["--memory", "2"]));
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("add a unit") && r.stderr.contains("GiB"),
        "{}",
        r.stderr
    );
}

#[test]
fn mme_emulator_refuses_a_bad_inference_component_in_one_line() {
    let usage = run(command("mme_emulator").args(["--memory", "2"])).code;
    for (arg, says) in [
        (
            "bad_name",
            "invalid inference component name \"bad_name\": 1 to 63 letters and digits",
        ),
        ("llm=many", "invalid copies 'many'"),
        ("llm=0:soon", "scale-out time: invalid duration 'soon'"),
        ("bad_endpoint/llm", "invalid endpoint name \"bad_endpoint\""),
    ] {
        let r = run(command("mme_emulator").args(["--inference-component", arg]));
        assert_eq!(r.code, usage, "{arg}: {}", r.stderr);
        let line = r
            .stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_default();
        assert!(line.contains(says), "{arg}: {}", r.stderr);
    }
    let help = run(command("mme_emulator").arg("--help"));
    assert!(
        help.stdout
            .contains("--inference-component <[ENDPOINT/]NAME[=COPIES[:SCALE_OUT[:IDLE]]]>"),
        "{}",
        help.stdout
    );
}

#[test]
fn mme_emulator_reports_a_port_in_use_in_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let r = run(command("mme_emulator").args(["--addr", &addr]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let last = r.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!("error: cannot listen on {addr}: ")),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Os {"), "a Debug dump: {}", r.stderr);
}

#[test]
fn each_binary_has_its_own_help() {
    for (name, says) in [
        (
            "mme_emulator",
            "A local SageMaker Runtime multi-model endpoint",
        ),
        ("aws_sdk", "with the AWS SDK for Rust"),
        ("invoke_endpoint", "Invoke a SageMaker endpoint"),
    ] {
        let r = run(command(name).arg("--help"));
        assert_eq!(r.code, 0, "{name}");
        assert!(r.stdout.contains(says), "{name}: {}", r.stdout);
        assert!(
            !r.stdout.contains("Tower middleware for Amazon SageMaker"),
            "{name} prints the crate's description"
        );
    }
}

#[test]
fn a_region_from_the_environment_selects_real_sagemaker() {
    // AWS_REGION as --region would: real SageMaker, which needs credentials
    // (none here: 253 before anything is sent).
    let out = outfile("unused.txt");
    let r = run(command("invoke_endpoint")
        .env("AWS_REGION", "eu-west-1")
        .args([
            "--endpoint-name",
            "demo",
            "--body",
            "1",
            out.to_str().unwrap(),
        ]));
    assert_eq!(r.code, 253, "{}", r.stderr);
    assert!(
        r.stderr.contains("Unable to locate credentials"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("emulator"), "{}", r.stderr);
}

#[test]
fn a_missing_ca_bundle_is_a_configuration_error() {
    let out = outfile("unused.txt");
    let r = invoke(&[
        "--ca-bundle",
        "/no/such/bundle.pem",
        "--body",
        "1",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 253, "{}", r.stderr);
    assert!(
        r.stderr.contains("--ca-bundle /no/such/bundle.pem"),
        "{}",
        r.stderr
    );
}

#[test]
fn debug_logs_the_layers_and_the_client() {
    let out = outfile("debug.txt");
    let r = invoke(&[
        "--debug",
        "--target-model",
        "model-1.tar.gz",
        "--body",
        "1",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("DEBUG"), "{}", r.stderr);
    assert!(r.stderr.contains("hyper"), "{}", r.stderr);
}

#[test]
fn invoke_endpoint_sends_its_header_flags_and_the_emulator_checks_them() {
    let out = outfile("unused.txt");
    let out = out.to_str().unwrap();
    // Valid for the service, but not a variant this endpoint has: the
    // emulator answers 400 ValidationError (254), so the header reached it.
    let r = invoke(&[
        "--target-model",
        "model-1.tar.gz",
        "--target-variant",
        "blue",
        "--body",
        "1",
        out,
    ]);
    assert_eq!(r.code, 254, "{}", r.stderr);
    assert!(
        r.stderr.contains("(ValidationError)") && r.stderr.contains("blue"),
        "{}",
        r.stderr
    );
    let r = invoke(&[
        "--target-model",
        "model-1.tar.gz",
        "--target-variant",
        "AllTraffic",
        "--inference-id",
        "order-1234",
        "--session-id",
        "NEW_SESSION",
        "--body",
        "1",
        out,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[tokio::test]
async fn invoke_endpoint_refuses_a_bad_endpoint_url_or_region_before_any_request() {
    // Where a request would go: it must see no connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let ftp = format!("ftp://127.0.0.1:{port}");
    let http = format!("http://127.0.0.1:{port}");
    let query = format!("{http}/?x=1");
    let fragment = format!("{http}#frag");
    let out = outfile("unused.txt");
    let out = out.to_str().unwrap();
    for (flags, says) in [
        (vec!["--endpoint-url", &ftp], format!("'{ftp}'")),
        (
            vec!["--endpoint-url", "http://127.0.0.1:99999"],
            "port \"99999\"".to_owned(),
        ),
        (
            vec!["--endpoint-url", ""],
            "'' for '--endpoint-url".to_owned(),
        ),
        (
            vec!["--endpoint-url", &http, "--region", "us-east-1\n"],
            "\"us-east-1\\n\"".to_owned(),
        ),
        (
            vec!["--endpoint-url", &query],
            "a query (?...) or fragment (#...)".to_owned(),
        ),
        (
            vec!["--endpoint-url", &fragment],
            "a query (?...) or fragment (#...)".to_owned(),
        ),
    ] {
        let mut cmd = command("invoke_endpoint");
        cmd.args(["--endpoint-name", "demo", "--body", "1", "--deadline", "3"])
            .args(&flags)
            .arg(out);
        let start = std::time::Instant::now();
        let output = tokio::process::Command::from(cmd).output().await.unwrap();
        let took = start.elapsed();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(252), "{flags:?}: {stderr}");
        assert!(stderr.contains(&says), "{flags:?}: {stderr}");
        assert!(
            took < std::time::Duration::from_secs(2),
            "{flags:?}: {took:?}"
        );
        let accepted = tokio::time::timeout(std::time::Duration::ZERO, listener.accept()).await;
        assert!(accepted.is_err(), "{flags:?}: a request was sent");
    }
}

#[test]
fn debug_logs_carry_no_colour_codes_off_a_terminal() {
    let out = outfile("debug-plain.txt");
    let r = invoke(&[
        "--debug",
        "--target-model",
        "model-1.tar.gz",
        "--body",
        "1",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("DEBUG"), "{}", r.stderr);
    assert!(!r.stderr.contains('\x1b'), "{}", r.stderr);
}

/// A shared config file of its own for a test, in the target directory.
fn aws_config_file(name: &str, contents: &str) -> PathBuf {
    let (target, _) = support::target_and_profile();
    let dir = target.join("cli-aws-config");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// The "Invoking endpoint ..." line, which says how many attempts and from where.
fn announced(r: &Run) -> &str {
    r.stderr
        .lines()
        .find(|l| l.starts_with("Invoking endpoint"))
        .unwrap_or_else(|| panic!("no announce line: {}", r.stderr))
}

/// A call of model-1 (a short cold start) on the embedded emulator.
fn invoke_model_1(cmd: &mut Command) -> Run {
    let out = outfile("attempts.txt");
    run(cmd.args([
        "--endpoint-name",
        "demo",
        "--target-model",
        "model-1.tar.gz",
        "--body",
        "1",
        out.to_str().unwrap(),
    ]))
}

const PROFILES: &str = "[default]\nmax_attempts = 3\n\n[profile other]\nmax_attempts = 7\n";

#[test]
fn attempts_come_from_the_flag_the_environment_or_the_profile_in_that_order() {
    let config = aws_config_file("attempts", PROFILES);
    let config = config.to_str().unwrap();
    for (env, flags, says) in [
        (vec![], vec![], "up to 5 attempts, "),
        (
            vec![("AWS_MAX_ATTEMPTS", "2")],
            vec![],
            "up to 2 attempts (AWS_MAX_ATTEMPTS), ",
        ),
        (
            vec![("AWS_CONFIG_FILE", config)],
            vec![],
            "up to 3 attempts (`max_attempts` of profile `default`), ",
        ),
        (
            vec![("AWS_CONFIG_FILE", config), ("AWS_PROFILE", "other")],
            vec![],
            "up to 7 attempts (`max_attempts` of profile `other`), ",
        ),
        (
            vec![("AWS_CONFIG_FILE", config)],
            vec!["--profile", "other"],
            "up to 7 attempts (`max_attempts` of profile `other`), ",
        ),
        // The environment wins over the profile.
        (
            vec![("AWS_CONFIG_FILE", config), ("AWS_MAX_ATTEMPTS", "1")],
            vec![],
            "up to 1 attempt (AWS_MAX_ATTEMPTS), ",
        ),
        // The flag wins over both, and a bad value it overrides is not read.
        (
            vec![("AWS_CONFIG_FILE", config), ("AWS_MAX_ATTEMPTS", "2")],
            vec!["--max-retries", "0"],
            "up to 1 attempt, ",
        ),
        (
            vec![("AWS_MAX_ATTEMPTS", "zero")],
            vec!["--max-retries", "5"],
            "up to 6 attempts, ",
        ),
    ] {
        let mut cmd = command("invoke_endpoint");
        cmd.envs(env.iter().copied()).args(&flags);
        let r = invoke_model_1(&mut cmd);
        assert_eq!(r.code, 0, "{env:?} {flags:?}: {}", r.stderr);
        assert!(
            announced(&r).contains(says),
            "{env:?} {flags:?}: {}",
            r.stderr
        );
    }
}

#[test]
fn aws_max_attempts_counts_every_attempt() {
    // A port nothing listens on: each attempt fails to connect and is retried.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = outfile("unused.txt");
    let r = run(command("invoke_endpoint")
        .env("AWS_MAX_ATTEMPTS", "2")
        .args([
            "--endpoint-name",
            "demo",
            "--endpoint-url",
            &url,
            "--body",
            "1",
        ])
        .arg(&out));
    assert_eq!(r.code, 255, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "Could not connect to the endpoint URL: \"{url}\" (2 attempts:"
        )),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("attempt 2/2"), "{}", r.stderr);
    assert!(!r.stderr.contains("attempt 3"), "{}", r.stderr);
}

#[tokio::test]
async fn bad_retry_and_endpoint_settings_are_refused_before_any_request() {
    // Where a request would go: it must see no connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let zero = aws_config_file("zero-attempts", "[default]\nmax_attempts = 0\n");
    let fips = aws_config_file("bad-fips", "[profile other]\nuse_fips_endpoint = maybe\n");
    let dual = aws_config_file("bad-dualstack", "[default]\nuse_dualstack_endpoint = 1\n");
    let broken = aws_config_file("broken", "[default\nmax_attempts = 2\n");
    let out = outfile("unused.txt");
    for (env, flags, code, says) in [
        (
            vec![("AWS_MAX_ATTEMPTS", "0")],
            vec![],
            253,
            "invalid AWS_MAX_ATTEMPTS \"0\"",
        ),
        (
            vec![("AWS_MAX_ATTEMPTS", "three")],
            vec![],
            253,
            "invalid AWS_MAX_ATTEMPTS \"three\"",
        ),
        (
            vec![("AWS_MAX_ATTEMPTS", "-1")],
            vec![],
            253,
            "invalid AWS_MAX_ATTEMPTS \"-1\"",
        ),
        (
            vec![("AWS_MAX_ATTEMPTS", "")],
            vec![],
            253,
            "invalid AWS_MAX_ATTEMPTS \"\"",
        ),
        (
            vec![("AWS_CONFIG_FILE", zero.to_str().unwrap())],
            vec![],
            253,
            "invalid `max_attempts` of profile `default` \"0\"",
        ),
        (
            vec![("AWS_USE_FIPS_ENDPOINT", "yes")],
            vec![],
            253,
            "invalid AWS_USE_FIPS_ENDPOINT \"yes\"",
        ),
        (
            vec![("AWS_CONFIG_FILE", fips.to_str().unwrap())],
            vec!["--profile", "other"],
            253,
            "invalid `use_fips_endpoint` of profile `other` \"maybe\"",
        ),
        (
            vec![("AWS_CONFIG_FILE", dual.to_str().unwrap())],
            vec![],
            253,
            "invalid `use_dualstack_endpoint` of profile `default` \"1\"",
        ),
        (
            vec![("AWS_CONFIG_FILE", broken.to_str().unwrap())],
            vec![],
            253,
            "cannot read the AWS config files",
        ),
        (vec![], vec!["--max-retries=-1"], 252, "--max-retries"),
        (vec![], vec!["--max-retries", "many"], 252, "--max-retries"),
    ] {
        let mut cmd = command("invoke_endpoint");
        cmd.envs(env.iter().copied())
            .args([
                "--endpoint-name",
                "demo",
                "--body",
                "1",
                "--endpoint-url",
                &url,
            ])
            .args(&flags)
            .arg(&out);
        let output = tokio::process::Command::from(cmd).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{env:?} {flags:?}: {stderr}"
        );
        assert!(stderr.contains(says), "{env:?} {flags:?}: {stderr}");
        let accepted = tokio::time::timeout(std::time::Duration::ZERO, listener.accept()).await;
        assert!(accepted.is_err(), "{env:?} {flags:?}: a request was sent");
    }
}

#[test]
fn a_retry_mode_other_than_legacy_is_ignored_in_one_line() {
    let says = "AWS_RETRY_MODE=\"standard\" is ignored";
    let mut cmd = command("invoke_endpoint");
    cmd.env("AWS_RETRY_MODE", "standard")
        .env("AWS_MAX_ATTEMPTS", "2");
    let r = invoke_model_1(&mut cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<_> = r
        .stderr
        .lines()
        .filter(|l| l.contains("AWS_RETRY_MODE"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert!(
        lines[0].contains(says) && lines[0].contains("ModelNotReadyException"),
        "{}",
        r.stderr
    );
    assert!(
        announced(&r).contains("up to 2 attempts (AWS_MAX_ATTEMPTS)"),
        "{}",
        r.stderr
    );
    for quiet in ["legacy", "LEGACY"] {
        let mut cmd = command("invoke_endpoint");
        cmd.env("AWS_RETRY_MODE", quiet);
        let r = invoke_model_1(&mut cmd);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(!r.stderr.contains("AWS_RETRY_MODE"), "{}", r.stderr);
    }
}

/// The endpoint `--debug` reports for a region, with no credentials: the
/// program stops (253) before anything is sent.
fn resolved_endpoint(cmd: &mut Command) -> String {
    let out = outfile("unused.txt");
    let r = run(cmd
        .args(["--endpoint-name", "demo", "--body", "1", "--debug"])
        .arg(&out));
    assert_eq!(r.code, 253, "{}", r.stderr);
    assert!(
        r.stderr.contains("Unable to locate credentials"),
        "{}",
        r.stderr
    );
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("by the SDK's endpoint rules: "))
        .unwrap_or_else(|| panic!("no endpoint line: {}", r.stderr));
    line.rsplit_once("by the SDK's endpoint rules: ")
        .unwrap()
        .1
        .trim()
        .to_owned()
}

#[test]
fn the_region_endpoint_comes_from_the_sdk_endpoint_rules() {
    // Expected values: the test cases of aws-sdk-sagemakerruntime's endpoint
    // resolver (src/config/endpoint.rs, generated from the service's rules).
    for (region, fips, dual_stack, url) in [
        (
            "us-east-1",
            "false",
            "false",
            "https://runtime.sagemaker.us-east-1.amazonaws.com",
        ),
        (
            "us-east-1",
            "true",
            "false",
            "https://runtime-fips.sagemaker.us-east-1.amazonaws.com",
        ),
        (
            "us-east-1",
            "false",
            "true",
            "https://runtime.sagemaker.us-east-1.api.aws",
        ),
        (
            "us-east-1",
            "true",
            "true",
            "https://runtime.sagemaker-fips.us-east-1.api.aws",
        ),
        (
            "cn-north-1",
            "false",
            "false",
            "https://runtime.sagemaker.cn-north-1.amazonaws.com.cn",
        ),
        (
            "cn-north-1",
            "true",
            "false",
            "https://runtime.sagemaker-fips.cn-north-1.amazonaws.com.cn",
        ),
        (
            "cn-north-1",
            "false",
            "true",
            "https://runtime.sagemaker.cn-north-1.api.amazonwebservices.com.cn",
        ),
        (
            "cn-north-1",
            "true",
            "true",
            "https://runtime.sagemaker-fips.cn-north-1.api.amazonwebservices.com.cn",
        ),
        (
            "us-gov-west-1",
            "false",
            "false",
            "https://runtime.sagemaker.us-gov-west-1.amazonaws.com",
        ),
        // GovCloud's regular endpoint is its FIPS endpoint.
        (
            "us-gov-west-1",
            "true",
            "false",
            "https://runtime.sagemaker.us-gov-west-1.amazonaws.com",
        ),
    ] {
        let mut cmd = command("invoke_endpoint");
        cmd.env("AWS_USE_FIPS_ENDPOINT", fips)
            .env("AWS_USE_DUALSTACK_ENDPOINT", dual_stack)
            .args(["--region", region]);
        assert_eq!(
            resolved_endpoint(&mut cmd),
            url,
            "{region}, FIPS {fips}, dual-stack {dual_stack}"
        );
    }
}

#[test]
fn fips_and_dual_stack_come_from_the_profile_and_the_environment_wins() {
    let config = aws_config_file(
        "fips",
        "[default]\nregion = cn-north-1\nuse_fips_endpoint = true\n\n\
         [profile dual]\nuse_dualstack_endpoint = TRUE\n",
    );
    let mut cmd = command("invoke_endpoint");
    cmd.env("AWS_CONFIG_FILE", &config);
    assert_eq!(
        resolved_endpoint(&mut cmd),
        "https://runtime.sagemaker-fips.cn-north-1.amazonaws.com.cn"
    );
    let mut cmd = command("invoke_endpoint");
    cmd.env("AWS_CONFIG_FILE", &config)
        .env("AWS_USE_FIPS_ENDPOINT", "false");
    assert_eq!(
        resolved_endpoint(&mut cmd),
        "https://runtime.sagemaker.cn-north-1.amazonaws.com.cn"
    );
    let mut cmd = command("invoke_endpoint");
    cmd.env("AWS_CONFIG_FILE", &config)
        .args(["--profile", "dual", "--region", "us-east-1"]);
    assert_eq!(
        resolved_endpoint(&mut cmd),
        "https://runtime.sagemaker.us-east-1.api.aws"
    );
}

#[test]
fn invoke_endpoint_help_explains_the_retry_mode_and_the_settings() {
    let r = run(command("invoke_endpoint").arg("--help"));
    assert_eq!(r.code, 0);
    for says in [
        "legacy mode",
        "AWS_RETRY_MODE",
        "standard mode, which does not retry ModelNotReadyException",
        "AWS_MAX_ATTEMPTS",
        "max_attempts",
        "--max-retries",
        "AWS_USE_FIPS_ENDPOINT",
        "AWS_USE_DUALSTACK_ENDPOINT",
        "use_fips_endpoint",
        "use_dualstack_endpoint",
        "endpoint rules",
    ] {
        assert!(r.stdout.contains(says), "{says} missing from --help");
    }
}

#[test]
fn zero_timeouts_wait_for_ever_as_in_the_aws_cli() {
    let mut cmd = command("invoke_endpoint");
    cmd.args(["--cli-read-timeout", "0", "--cli-connect-timeout", "0"]);
    let r = invoke_model_1(&mut cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        announced(&r).contains("reads without a time limit"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("timeout"), "{}", r.stderr);
}

/// One answer of [`answering_server`]: status, headers, body.
type Answer = (u16, &'static [(&'static str, &'static str)], &'static str);

/// A server that gives the n-th request the n-th of `answers` (the last one
/// from then on), one request per connection, counting them; on its own
/// thread.
fn answering_server(
    answers: &'static [Answer],
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            // Read the request's head and body, answer, close.
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stream.read(&mut buf) {
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request);
                if let Some((head, rest)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if rest.len() >= length {
                        break;
                    }
                }
            }
            let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (status, headers, body) = answers[n.min(answers.len() - 1)];
            let mut answer = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                answer.push_str(&format!("{name}: {value}\r\n"));
            }
            answer.push_str("\r\n");
            answer.push_str(body);
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (url, count)
}

#[test]
fn an_error_code_in_the_body_is_read_and_cut_as_botocore_does() {
    let out = outfile("unused.txt");
    const ANSWERS: [&[Answer]; 3] = [
        &[(
            400,
            &[],
            r#"{"__type":"com.amazonaws.sagemaker#ValidationError","message":"bad"}"#,
        )],
        &[(400, &[], r#"{"Code":"ValidationError","Message":"bad"}"#)],
        &[(
            400,
            &[],
            r#"{"code":"ModelError:http://internal.amazon.com/coral/","message":"bad"}"#,
        )],
    ];
    for (answers, code) in
        ANSWERS
            .into_iter()
            .zip(["ValidationError", "ValidationError", "ModelError"])
    {
        let body = answers[0].2;
        let (url, requests) = answering_server(answers);
        let r = run(command("invoke_endpoint").args([
            "--endpoint-name",
            "demo",
            "--endpoint-url",
            &url,
            "--body",
            "1",
            out.to_str().unwrap(),
        ]));
        assert_eq!(r.code, 254, "{body}: {}", r.stderr);
        let says =
            format!("An error occurred ({code}) when calling the InvokeEndpoint operation: bad");
        assert!(r.stderr.contains(&says), "{body}: {}", r.stderr);
        assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}

#[test]
fn reached_max_retries_is_said_only_when_the_retries_ran_out() {
    const BUSY: Answer = (
        503,
        &[("x-amzn-errortype", "ServiceUnavailable")],
        r#"{"message":"busy"}"#,
    );
    const BAD: Answer = (
        400,
        &[("x-amzn-errortype", "ValidationError")],
        r#"{"message":"bad"}"#,
    );
    let out = outfile("unused.txt");
    let call = |answers: &'static [Answer]| {
        let (url, _) = answering_server(answers);
        run(command("invoke_endpoint")
            .args([
                "--endpoint-name",
                "demo",
                "--endpoint-url",
                &url,
                "--body",
                "1",
            ])
            .args(["--max-retries", "1"])
            .arg(&out))
    };
    let exhausted = call(&[BUSY]);
    assert_eq!(exhausted.code, 254, "{}", exhausted.stderr);
    assert!(
        exhausted.stderr.contains(
            "An error occurred (ServiceUnavailable) when calling the InvokeEndpoint operation (reached max retries: 1): busy"
        ),
        "{}",
        exhausted.stderr
    );
    // Retried once, then an answer that is not retried: the retries did not run out.
    let ended = call(&[BUSY, BAD]);
    assert_eq!(ended.code, 254, "{}", ended.stderr);
    assert!(ended.stderr.contains("attempt 2/2"), "{}", ended.stderr);
    assert!(
        ended.stderr.contains(
            "An error occurred (ValidationError) when calling the InvokeEndpoint operation: bad"
        ),
        "{}",
        ended.stderr
    );
}

#[tokio::test]
async fn an_endpoint_url_configured_as_the_sdk_finds_one_is_used() {
    use tower_sagemaker::emulator::{Emulator, ModelSpec};
    let emulator = Emulator::builder()
        .model("fast", ModelSpec::new(std::time::Duration::ZERO))
        .build();
    let server = emulator
        .serve("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = server.endpoint_url();
    // A port where nothing listens: a call sent there fails to connect.
    let nowhere = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let profile = aws_config_file(
        "endpoint-url",
        &format!("[default]\nendpoint_url = {url}\n"),
    );
    let services = aws_config_file(
        "endpoint-url-services",
        &format!(
            "[default]\nendpoint_url = {nowhere}\nservices = local\n\n[services local]\nsagemaker-runtime =\n  endpoint_url = {url}\n"
        ),
    );
    let out = outfile("configured-endpoint.txt");
    for (env, from) in [
        (vec![("AWS_ENDPOINT_URL", url.as_str())], "AWS_ENDPOINT_URL"),
        (
            vec![
                ("AWS_ENDPOINT_URL", nowhere.as_str()),
                ("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", url.as_str()),
            ],
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
        ),
        (
            vec![("AWS_CONFIG_FILE", profile.to_str().unwrap())],
            "endpoint_url",
        ),
        (
            vec![("AWS_CONFIG_FILE", services.to_str().unwrap())],
            "endpoint_url",
        ),
    ] {
        let mut cmd = command("invoke_endpoint");
        cmd.envs(env.iter().copied()).args([
            "--endpoint-name",
            "demo",
            "--target-model",
            "fast",
            "--body",
            "1.0,2.0",
            out.to_str().unwrap(),
        ]);
        let output = tokio::process::Command::from(cmd).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{env:?}: {stderr}");
        assert!(
            stderr.contains("Endpoint URL from ") && stderr.contains(from),
            "{env:?}: {stderr}"
        );
        assert!(stderr.contains(&format!(" at {url}:")), "{env:?}: {stderr}");
        assert!(!stderr.contains("built-in"), "{env:?}: {stderr}");
    }
    // Ignored when asked: the embedded emulator answers.
    let mut cmd = command("invoke_endpoint");
    cmd.envs([
        ("AWS_ENDPOINT_URL", nowhere.as_str()),
        ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
    ]);
    let cmd = cmd.args([
        "--endpoint-name",
        "demo",
        "--target-model",
        "model-1.tar.gz",
        "--body",
        "1",
        out.to_str().unwrap(),
    ]);
    let output = tokio::process::Command::from(std::mem::replace(cmd, Command::new("true")))
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("Endpoint URL from"), "{stderr}");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_credentials_profiles_and_endpoint_urls_are_refused_before_any_request() {
    // Where a request would go: it must see no connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let config = aws_config_file("profiles", "[default]\n");
    let process = aws_config_file(
        "broken-credential-process",
        "[default]\ncredential_process = /nonexistent/credential-helper\n",
    );
    let bad_url = aws_config_file("bad-endpoint-url", "[default]\nendpoint_url = ftp://x\n");
    let out = outfile("unused.txt");
    let with_url = vec!["--endpoint-url", url.as_str()];
    for (env, flags, says) in [
        (
            vec![("AWS_CONFIG_FILE", config.to_str().unwrap())],
            [with_url.clone(), vec!["--profile", "defualt"]].concat(),
            "The config profile (defualt) could not be found",
        ),
        (
            vec![
                ("AWS_CONFIG_FILE", config.to_str().unwrap()),
                ("AWS_PROFILE", "missing"),
            ],
            with_url.clone(),
            "The config profile (missing) could not be found",
        ),
        (
            vec![("AWS_CONFIG_FILE", process.to_str().unwrap())],
            with_url.clone(),
            "Unable to load credentials",
        ),
        (
            vec![
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
            ],
            with_url.clone(),
            "You must specify a region",
        ),
        (
            vec![("AWS_ENDPOINT_URL", "http://127.0.0.1:8080/?x=1")],
            vec![],
            "invalid AWS_ENDPOINT_URL",
        ),
        (
            vec![("AWS_CONFIG_FILE", bad_url.to_str().unwrap())],
            vec![],
            "\"ftp://x\"",
        ),
    ] {
        let mut cmd = command("invoke_endpoint");
        cmd.envs(env.iter().copied())
            .args(["--endpoint-name", "demo", "--body", "1"])
            .args(&flags)
            .arg(&out);
        let output = tokio::process::Command::from(cmd).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(253),
            "{env:?} {flags:?}: {stderr}"
        );
        assert!(stderr.contains(says), "{env:?} {flags:?}: {stderr}");
        assert!(!stderr.contains("unsigned"), "{env:?} {flags:?}: {stderr}");
        let accepted = tokio::time::timeout(std::time::Duration::ZERO, listener.accept()).await;
        assert!(accepted.is_err(), "{env:?} {flags:?}: a request was sent");
    }
}
