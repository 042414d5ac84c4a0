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
