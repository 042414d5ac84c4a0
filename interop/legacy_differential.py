"""botocore's own legacy retry decisions for sagemaker-runtime, for tests/interop.rs.

Two modes:

    python legacy_differential.py responses CASES.json
        CASES.json is {"cases": [{"id", "status", "headers": [[name, value_hex]], "body_hex"}]}.
        Each case is answered, on the first attempt of a real
        `invoke_endpoint` call, by a `before-send` handler returning a
        `botocore.awsrequest.AWSResponse` with those bytes. botocore then runs
        its own pipeline: `convert_to_response_dict`, the rest-json parser
        (and the modeled-error second pass), and emits `needs-retry` to the
        `RetryHandler` it registered for the client from `_retry.json`
        (retries mode legacy). A wrapper around that registered handler
        records its answer and stops the call, so nothing sleeps and nothing
        leaves the process.

    python legacy_differential.py connection URL
        One `invoke_endpoint` call to URL (a server that breaks the response);
        records each `needs-retry` decision and the exception botocore caught.

Header values arrive as hex bytes and are decoded as ISO-8859-1, as
http.client does with the bytes of a response head. Prints one JSON document
on stdout.
"""

import io
import json
import sys

import boto3
import botocore
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.retryhandler import RetryHandler
from urllib3._collections import HTTPHeaderDict

REGION = "us-east-1"
SERVICE_EVENT = "sagemaker-runtime"
RETRY_HANDLER_ID = f"retry-config-{SERVICE_EVENT}"


class Raw:
    """The raw body of an AWSResponse: what urllib3's response offers botocore."""

    def __init__(self, body):
        self._io = io.BytesIO(body)

    def stream(self, amt=1024, decode_content=None):
        while True:
            chunk = self._io.read(amt)
            if not chunk:
                return
            yield chunk

    def read(self, amt=None, decode_content=None):
        return self._io.read(amt)

    def close(self):
        pass


class Recorder:
    """Wraps the retry handler botocore registered, recording its decisions."""

    def __init__(self, handler):
        self.handler = handler
        self.decisions = []
        self.stop = True

    def __call__(self, **kwargs):
        result = self.handler(**kwargs)
        response = kwargs.get("response")
        caught = kwargs.get("caught_exception")
        code = None
        if response is not None:
            code = response[1].get("Error", {}).get("Code")
        # botocore's endpoint retries unless the answer is None or False.
        retry = result is not None and result is not False
        self.decisions.append(
            {
                "attempt": kwargs["attempts"],
                "retry": retry,
                "code": code if isinstance(code, str) or code is None else repr(code),
                "exception": type(caught).__name__ if caught is not None else None,
                "exception_message": str(caught) if caught is not None else None,
            }
        )
        # Stop here: no sleep, no second attempt.
        return None if self.stop else (0 if retry else None)


def legacy_client(endpoint_url, total_max_attempts):
    session = boto3.session.Session(
        region_name=REGION,
        aws_access_key_id="AKIDDIFFERENTIAL",
        aws_secret_access_key="differential-secret",
    )
    client = session.client(
        "sagemaker-runtime",
        endpoint_url=endpoint_url,
        config=Config(
            retries={"mode": "legacy", "total_max_attempts": total_max_attempts},
            connect_timeout=5,
            read_timeout=5,
        ),
    )
    events = client.meta.events
    # The handler botocore registered for this client in
    # ClientCreator._register_legacy_retries (unique id retry-config-<service>).
    registered = events._emitter._unique_id_handlers[RETRY_HANDLER_ID]["handler"]
    if not isinstance(registered, RetryHandler):
        raise AssertionError(f"unexpected retry handler {registered!r}")
    events.unregister(f"needs-retry.{SERVICE_EVENT}", unique_id=RETRY_HANDLER_ID)
    recorder = Recorder(registered)
    events.register(f"needs-retry.{SERVICE_EVENT}", recorder, unique_id="differential-recorder")
    return client, recorder


def invoke(client):
    return client.invoke_endpoint(
        EndpointName="differential",
        TargetModel="model.tar.gz",
        Body=b"1.0",
        ContentType="text/csv",
    )


def responses(path):
    with open(path) as f:
        cases = json.load(f)["cases"]
    # Five attempts, as botocore's default: the first attempt is always below
    # the maximum, so the handler answers by the response alone.
    client, recorder = legacy_client("http://127.0.0.1:9", 5)
    current = {}
    sends = []

    def before_send(request, **kwargs):
        sends.append(1)
        case = current["case"]
        headers = HTTPHeaderDict()
        for name, value_hex in case["headers"]:
            headers.add(name, bytes.fromhex(value_hex).decode("iso-8859-1"))
        return AWSResponse(
            request.url, case["status"], headers, Raw(bytes.fromhex(case["body_hex"]))
        )

    client.meta.events.register(f"before-send.{SERVICE_EVENT}", before_send)

    results = []
    for case in cases:
        current["case"] = case
        recorder.decisions.clear()
        sends.clear()
        crash = None
        try:
            invoke(client)
        except botocore.exceptions.ClientError:
            pass
        except Exception as e:  # botocore's parser raised: no decision was made
            crash = f"{type(e).__name__}: {e}"
        if len(sends) != 1:
            raise AssertionError(f"case {case['id']}: {len(sends)} attempts")
        if crash is None and len(recorder.decisions) != 1:
            raise AssertionError(f"case {case['id']}: decisions {recorder.decisions!r}")
        decision = recorder.decisions[0] if recorder.decisions else {}
        results.append(
            {
                "id": case["id"],
                "retry": decision.get("retry"),
                "code": decision.get("code"),
                "crash": crash,
            }
        )
    json.dump(
        {"botocore": botocore.__version__, "boto3": boto3.__version__, "results": results},
        sys.stdout,
    )


def connection(url):
    # Two attempts, each recorded; the recorder lets the retry go through (without sleeping).
    client, recorder = legacy_client(url, 2)
    recorder.stop = False
    final = None
    try:
        invoke(client)
    except Exception as e:
        final = type(e).__name__
    json.dump(
        {"botocore": botocore.__version__, "decisions": recorder.decisions, "final": final},
        sys.stdout,
    )


def main():
    mode, arg = sys.argv[1], sys.argv[2]
    {"responses": responses, "connection": connection}[mode](arg)


if __name__ == "__main__":
    main()
