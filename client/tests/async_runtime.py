"""A fake of sagemaker-runtime's ``InvokeEndpointAsync`` in front of a real HTTP server, for the async client tests.

moto has no working asynchronous endpoint, so this plays SageMaker's part: a real ``http.server`` on 127.0.0.1
that boto3 reaches through ``endpoint_url``. It takes the operation as botocore's service model serializes it
(rest-json: ``POST /endpoints/{EndpointName}/async-invocations``, the parameters in ``X-Amzn-SageMaker-*``
headers, no body) and answers 202 with ``InferenceId`` in the JSON body and ``X-Amzn-SageMaker-OutputLocation``
/ ``X-Amzn-SageMaker-FailureLocation`` headers. Then, in a thread (the queue), it reads the request body from S3
(moto's, in-process), POSTs it to ``<target>/invocations`` and writes the answer to
``<output_uri>/<InferenceId>.out``, or a 4xx/5xx error body to ``<failure_uri>/<InferenceId>-error.out`` (the
names SageMaker uses). ``hold = True`` queues requests without running them until ``release()``.
"""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from scripted import send_json

_PATH = re.compile(r"^/endpoints/([a-zA-Z0-9](?:-*[a-zA-Z0-9])*)/async-invocations$")
_HEADER = "x-amzn-sagemaker-"


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@dataclass
class FakeAsyncRuntime:
    """The fake's settings and what it has seen; ``start()`` serves it."""

    target: str  # the server playing the model container
    s3: Any  # a boto3 s3 client (moto)
    output_uri: str = "s3://async-out/results"
    failure_uri: str | None = "s3://async-out/failures"
    hold: bool = False
    url: str = ""
    requests: list[dict[str, str]] = field(default_factory=list)
    _held: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def invoke(self, endpoint: str, headers: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        """One InvokeEndpointAsync: (status, JSON body, headers)."""
        params = {name.removeprefix(_HEADER): value for name, value in headers.items() if name.startswith(_HEADER)}
        if not params.get("inputlocation", "").startswith("s3://"):
            return 400, {"message": "InputLocation must be an s3:// URI"}, {"x-amzn-ErrorType": "ValidationError"}
        inference_id = params.get("inference-id") or str(uuid.uuid4())
        with self._lock:
            self.requests.append({"endpoint": endpoint, "inference_id": inference_id, **params})
        out = {"X-Amzn-SageMaker-OutputLocation": f"{self.output_uri}/{inference_id}.out"}
        if self.failure_uri:
            out["X-Amzn-SageMaker-FailureLocation"] = f"{self.failure_uri}/{inference_id}-error.out"
        job = (inference_id, params)
        with self._lock:
            if self.hold:
                self._held.append(job)
            else:
                self._run(job)
        return 202, {"InferenceId": inference_id}, out

    def release(self) -> None:
        """Run the held requests (and stop holding)."""
        with self._lock:
            self.hold = False
            for job in self._held:
                self._run(job)
            self._held.clear()

    def join(self) -> None:
        for thread in list(self._threads):
            thread.join(timeout=30)

    def _run(self, job: tuple[str, dict[str, str]]) -> None:
        thread = threading.Thread(target=self._process, args=job, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _process(self, inference_id: str, params: dict[str, str]) -> None:
        bucket, key = _split(params["inputlocation"])
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        content_type = params.get("content-type", "application/octet-stream")
        request = urllib.request.Request(
            f"{self.target}/invocations", data=body, method="POST",
            headers={"Content-Type": content_type, "Accept": params.get("accept", "*/*")},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (127.0.0.1 only)
                answer, where = response.read(), f"{self.output_uri}/{inference_id}.out"
        except urllib.error.HTTPError as err:
            if not self.failure_uri:
                return  # no failure path: SageMaker only notifies (SNS); the caller sees a timeout
            answer, where = err.read(), f"{self.failure_uri}/{inference_id}-error.out"
        out_bucket, out_key = _split(where)
        self.s3.put_object(Bucket=out_bucket, Key=out_key, Body=answer, ContentType="application/json")


def handler_for(fake: FakeAsyncRuntime) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))  # botocore sends no body here
            match = _PATH.match(self.path)
            if match is None:
                status, body, headers = 404, {"message": f"no such operation: {self.path}"}, {}
            else:
                status, body, headers = fake.invoke(match.group(1), {k.lower(): v for k, v in self.headers.items()})
            send_json(self, status, body, headers)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def serve(fake: FakeAsyncRuntime) -> ThreadingHTTPServer:
    """Serve ``fake`` on a free 127.0.0.1 port (sets ``fake.url``); ``shutdown()`` and ``server_close()`` it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(fake))
    fake.url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    return server
