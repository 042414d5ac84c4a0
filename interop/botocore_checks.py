"""Checks botocore/boto3 against the tower-sagemaker emulator.

Run by tests/interop.rs as
    python botocore_checks.py CHECK --endpoint-url URL --model NAME
with test credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and
AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE pointing at empty files.
Prints one line starting with "ok:" and exits 0 when the check passes;
raises (exit status 1, traceback on stderr) when it fails.
"""

import argparse
import json
import sys
import time

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-east-1"


def client(endpoint_url, retries, secret=None):
    session = boto3.session.Session(region_name=REGION)
    kwargs = {}
    if secret is not None:
        creds = session.get_credentials()
        kwargs = {"aws_access_key_id": creds.access_key, "aws_secret_access_key": secret}
    return session.client(
        "sagemaker-runtime",
        endpoint_url=endpoint_url,
        config=Config(retries=retries, connect_timeout=5, read_timeout=30),
        **kwargs,
    )


def invoke(c, model, body="1.0,2.0,5.0"):
    return c.invoke_endpoint(
        EndpointName="demo",
        TargetModel=model,
        Body=body.encode(),
        ContentType="text/csv",
    )


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


def not_ready(url, model):
    """The emulator's 429 parses as ModelNotReadyException, retries off."""
    c = client(url, {"total_max_attempts": 1})
    try:
        invoke(c, model)
    except c.exceptions.ModelNotReadyException as e:
        err = e.response["Error"]
        meta = e.response["ResponseMetadata"]
        expect(err["Code"] == "ModelNotReadyException", f"code {err!r}")
        expect(meta["HTTPStatusCode"] == 429, f"status {meta!r}")
        expect(meta.get("RetryAttempts", 0) == 0, f"retried: {meta!r}")
        expect(model in err["Message"] and "not ready" in err["Message"], f"message {err!r}")
        print(f"ok: ModelNotReadyException: {err['Message']}")
        return
    raise AssertionError("no ModelNotReadyException")


def legacy_retries(url, model):
    """boto3's legacy mode rides through a cold start."""
    c = client(url, {"max_attempts": 2, "mode": "legacy"})
    start = time.monotonic()
    res = invoke(c, model)
    took = time.monotonic() - start
    body = res["Body"].read().decode()
    retries = res["ResponseMetadata"].get("RetryAttempts", 0)
    expect(body == "8.0", f"body {body!r}")
    expect(retries >= 1, f"no retry: {res['ResponseMetadata']!r}")
    expect(res["ContentType"] == "text/csv", f"content type {res['ContentType']!r}")
    expect(res["InvokedProductionVariant"] == "AllTraffic", f"variant {res!r}")
    print(f"ok: {body} after {retries} retries in {took:.1f} s")


def wrong_secret(url, model):
    """A wrong secret fails SigV4 verification: 403 with the code."""
    c = client(url, {"total_max_attempts": 1}, secret="not-the-secret")
    try:
        invoke(c, model)
    except ClientError as e:
        err = e.response["Error"]
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        expect(status == 403, f"status {status}")
        expect(err["Code"] == "InvalidSignatureException", f"code {err!r}")
        print(f"ok: {status} {err['Code']}: {err['Message']}")
        return
    raise AssertionError("the wrong secret was accepted")


def attempt_headers(url, model):
    """The amz-sdk-* headers boto3's legacy mode sends on each attempt of a
    call that rides through a cold start, as JSON after "ok: "."""
    c = client(url, {"mode": "legacy"})
    seen = []

    def record(request, **_):
        h = request.headers
        seen.append([h.get("amz-sdk-invocation-id"), h.get("amz-sdk-request")])

    c.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", record)
    res = invoke(c, model)
    expect(res["ResponseMetadata"].get("RetryAttempts", 0) >= 1, "no retry")
    text = [[v.decode() if isinstance(v, bytes) else v for v in pair] for pair in seen]
    print("ok: " + json.dumps(text))


def no_capacity(url, component):
    """An inference component scaled to zero: boto3 gets ClientError
    ValidationError, not retried even in legacy mode; the first call starts
    the scale-out, after which the component serves. Prints the first error
    and the body served, as JSON after "ok: "."""
    c = client(url, {"mode": "legacy"})

    def call():
        return c.invoke_endpoint(
            EndpointName="demo",
            InferenceComponentName=component,
            Body=b"1.0,2.0,5.0",
            ContentType="text/csv",
        )

    try:
        call()
        raise AssertionError("a component with no copy served")
    except ClientError as e:
        err = e.response["Error"]
        meta = e.response["ResponseMetadata"]
        first = {
            "code": err["Code"],
            "message": err["Message"],
            "status": meta["HTTPStatusCode"],
            "retries": meta.get("RetryAttempts", 0),
        }
    deadline = time.monotonic() + 10
    while True:
        try:
            res = call()
            break
        except ClientError as e:
            code = e.response["Error"]["Code"]
            expect(code == "ValidationError", f"code {code!r} while scaling out")
            expect(time.monotonic() < deadline, "no copy 10 s after the first call")
            time.sleep(0.1)
    first["body"] = res["Body"].read().decode()
    print("ok: " + json.dumps(first))


def main():
    p = argparse.ArgumentParser()
    p.add_argument(
        "check",
        choices=["not-ready", "legacy-retries", "wrong-secret", "attempt-headers", "no-capacity"],
    )
    p.add_argument("--endpoint-url", required=True)
    # The target model; for no-capacity, the inference component.
    p.add_argument("--model", required=True)
    a = p.parse_args()
    print(f"boto3 {boto3.__version__}, botocore {botocore.__version__}", file=sys.stderr)
    checks = {
        "not-ready": not_ready,
        "legacy-retries": legacy_retries,
        "wrong-secret": wrong_secret,
        "attempt-headers": attempt_headers,
        "no-capacity": no_capacity,
    }
    checks[a.check](a.endpoint_url, a.model)


if __name__ == "__main__":
    main()
