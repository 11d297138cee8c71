"""SageMaker Asynchronous Inference: the request body goes to S3, ``InvokeEndpointAsync`` queues it, and the
answer appears later as an S3 object, which the client polls for.

- ``InvokeEndpointAsync`` answers at once with ``OutputLocation`` (where the container's response will be
  written) and, where the endpoint config has an ``S3FailurePath``, ``FailureLocation`` (where the container's
  error response is written instead). Without a failure path a failed request is only seen as a timeout.
- ``AsyncJob`` is the handle: ``done()`` looks once, ``wait()`` polls both locations with exponential backoff
  (``poll_initial_s`` doubling to ``poll_max_s``) until a deadline. A failure object raises
  ``AsyncInferenceError`` carrying the container's error JSON; the deadline raises ``AsyncInferenceTimeout``
  (the requests stay queued: wait again, or read the output locations later).
- The request objects are left in S3 (``s3://bucket/prefix/<inference id>.json``), as are SageMaker's answers:
  an S3 lifecycle rule on both prefixes is the cleaner way to expire them.
- ``AsyncLimits`` is what each ``InvokeEndpointAsync`` is told: ``InvocationTimeoutSeconds`` (processing, 1-3600;
  default 3600, the container's own async ``EMB_REQUEST_DEADLINE_S``: without it SageMaker expires a request after
  900 s that the container would still finish) and ``RequestTTLSeconds`` (time in the queue, 60-21600; default
  not sent: SageMaker's 6 hours). Values outside the API's ranges raise ``ValueError`` before any call.

IAM for the caller: ``sagemaker:InvokeEndpointAsync``; ``s3:PutObject`` on the input prefix; ``s3:GetObject``
on the output and failure prefixes, and ``s3:ListBucket`` on their buckets (without it S3 answers a missing
key, the usual "not yet", with 403, which is raised rather than waited on).
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .errors import EmbeddingServiceError

T = TypeVar("T")

MAX_ASYNC_BODY_BYTES = 1_000_000_000  # async inference's 1 GB request payload, read as decimal bytes
DEFAULT_ASYNC_BATCH_SIZE = 1024  # inputs per async request: within the server's defaults (2048 inputs, 1024 documents)
# InvokeEndpointAsync's bounds (sagemaker-runtime service model): InvocationTimeoutSeconds 1-3600 (SageMaker's default
# 900), RequestTTLSeconds 60-21600 (default 21600). botocore checks only the minimum, so the client checks both ends.
INVOCATION_TIMEOUT_RANGE_S = (1, 3600)
REQUEST_TTL_RANGE_S = (60, 21600)
# = the container's async EMB_REQUEST_DEADLINE_S default (inference/settings.py MODE_DEFAULTS), the API's maximum
DEFAULT_INVOCATION_TIMEOUT_S = 3600
DEFAULT_ASYNC_TIMEOUT_S = float(DEFAULT_INVOCATION_TIMEOUT_S)  # how long wait() polls; queueing adds to processing
POLL_INITIAL_S, POLL_MAX_S = 0.5, 10.0

_S3_URI = re.compile(r"^s3://([^/]+)/?(.*)$")
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_DENIED = frozenset({"AccessDenied", "403", "Forbidden"})


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key/parts`` -> (``bucket``, ``key/parts``); the key may be empty."""
    match = _S3_URI.match(uri)
    if not match:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    return match.group(1), match.group(2)


def input_location(prefix_uri: str, request_id: str) -> str:
    """Where one request body is uploaded: ``<prefix_uri>/<request_id>.json``."""
    bucket, prefix = split_s3_uri(prefix_uri)
    prefix = prefix.strip("/")
    return f"s3://{bucket}/{prefix + '/' if prefix else ''}{request_id}.json"


def _check_range(name: str, value: int | None, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high):
        raise ValueError(f"{name} must be a whole number of seconds, {low}-{high} (InvokeEndpointAsync), got {value!r}")


@dataclass(frozen=True)
class AsyncLimits:
    """``InvocationTimeoutSeconds`` / ``RequestTTLSeconds`` for ``InvokeEndpointAsync``; None: not sent (SageMaker's
    defaults, 900 s and 6 hours). Checked against the API's ranges when made."""

    invocation_timeout_s: int | None = DEFAULT_INVOCATION_TIMEOUT_S
    request_ttl_s: int | None = None

    def __post_init__(self) -> None:
        _check_range("invocation_timeout_s", self.invocation_timeout_s, INVOCATION_TIMEOUT_RANGE_S)
        _check_range("request_ttl_s", self.request_ttl_s, REQUEST_TTL_RANGE_S)

    def override(self, invocation_timeout_s: int | None = None, request_ttl_s: int | None = None) -> AsyncLimits:
        """These limits with the per-call values that are given (not None) instead."""
        return AsyncLimits(
            self.invocation_timeout_s if invocation_timeout_s is None else invocation_timeout_s,
            self.request_ttl_s if request_ttl_s is None else request_ttl_s,
        )


@dataclass(frozen=True)
class AsyncInvocation:
    """One queued request. ``items``: the positions (in the call's inputs or documents) that it carries."""

    inference_id: str
    input_location: str
    output_location: str
    failure_location: str | None
    items: range


class AsyncInferenceError(EmbeddingServiceError):
    """The endpoint wrote a failure object for ``invocation``: the container's error response. ``payload`` is its
    JSON (this server's ``{"error": {"type", "message"}}``) or its text; ``code`` and ``message`` come from it.
    ``status`` is 0: a failure object carries no HTTP status."""

    def __init__(self, invocation: AsyncInvocation, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace")
        try:
            payload: Any = json.loads(text)
        except ValueError:
            payload = text
        error = payload.get("error") if isinstance(payload, dict) else None
        error = error if isinstance(error, dict) else {}
        code = str(error.get("type") or "async_inference_failed")
        message = str(error.get("message") or text[:2000])
        super().__init__(0, code, message)
        self.args = (f"{code}: {message} (async inference {invocation.inference_id}, {invocation.failure_location})",)
        self.payload, self.invocation = payload, invocation


class AsyncInferenceTimeout(EmbeddingServiceError):
    """No answer (output or failure object) for ``pending`` before the deadline. The requests are still queued
    or running: wait on the job again, or read their ``output_location`` later."""

    def __init__(self, waited_s: float, pending: Sequence[AsyncInvocation]) -> None:
        where = ", ".join(invocation.output_location for invocation in pending[:3])
        more = f" and {len(pending) - 3} more" if len(pending) > 3 else ""
        message = f"{len(pending)} async request(s) not answered after {waited_s:.1f} s; outputs due at {where}{more}"
        super().__init__(0, "async_timeout", message)
        self.pending = tuple(pending)


class S3Objects:
    """Request bodies up, answers down, through a boto3 ``s3`` client; errors as ``EmbeddingServiceError``."""

    def __init__(self, s3_client: Any) -> None:
        self.client = s3_client

    def put(self, uri: str, body: bytes) -> None:
        """Upload ``body`` (multipart above boto3's 8 MB threshold)."""
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = split_s3_uri(uri)
        try:
            self.client.upload_fileobj(io.BytesIO(body), bucket, key, ExtraArgs={"ContentType": "application/json"})
        except (ClientError, S3UploadFailedError, BotoCoreError) as err:
            raise EmbeddingServiceError(0, "s3_upload_failed", f"uploading the request to {uri}: {err}") from err

    def get(self, uri: str) -> bytes | None:
        """The object's bytes, or None while it does not exist."""
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = split_s3_uri(uri)
        try:
            return bytes(self.client.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                return None
            status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            hint = " (a missing key reads as 403 without s3:ListBucket on the bucket)" if code in _DENIED else ""
            raise EmbeddingServiceError(status, code, f"reading {uri}: {err}{hint}") from err
        except BotoCoreError as err:
            raise EmbeddingServiceError(0, "s3_error", f"reading {uri}: {err}", retryable=True) from err


class AsyncJob(Generic[T]):
    """A submitted ``embed_async`` / ``rerank_async``: one or more queued requests (``invocations``).

    ``done()`` looks at S3 once; ``wait()`` polls until every answer is in and returns what the blocking call
    returns (vectors, or a ``RerankResponse``). Both raise ``AsyncInferenceError`` as soon as a failure object
    appears; ``wait`` raises ``AsyncInferenceTimeout`` at its deadline (default: the client's
    ``async_timeout_s``). Answers already read are kept, so waiting again only polls for the rest.
    """

    def __init__(
        self,
        invocations: Sequence[AsyncInvocation],
        store: S3Objects,
        finish: Callable[[list[bytes]], T],
        *,
        timeout_s: float = DEFAULT_ASYNC_TIMEOUT_S,
        poll_initial_s: float = POLL_INITIAL_S,
        poll_max_s: float = POLL_MAX_S,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.invocations = tuple(invocations)
        self.timeout_s, self.poll_initial_s, self.poll_max_s = timeout_s, poll_initial_s, poll_max_s
        self._store, self._finish, self._sleep, self._clock = store, finish, sleep, clock
        self._answers: dict[int, bytes] = {}

    @property
    def inference_ids(self) -> list[str]:
        return [invocation.inference_id for invocation in self.invocations]

    @property
    def output_locations(self) -> list[str]:
        return [invocation.output_location for invocation in self.invocations]

    @property
    def failure_locations(self) -> list[str | None]:
        return [invocation.failure_location for invocation in self.invocations]

    def _look(self) -> list[AsyncInvocation]:
        """Read every answer not yet in; the invocations still unanswered."""
        pending = []
        for index, invocation in enumerate(self.invocations):
            if index in self._answers:
                continue
            answer = self._store.get(invocation.output_location)
            if answer is not None:
                self._answers[index] = answer
                continue
            if invocation.failure_location and (failure := self._store.get(invocation.failure_location)) is not None:
                raise AsyncInferenceError(invocation, failure)
            pending.append(invocation)
        return pending

    def done(self) -> bool:
        """True when every answer is in (one look, no waiting)."""
        return not self._look()

    def wait(self, timeout_s: float | None = None) -> T:
        """Poll until every answer is in (backoff ``poll_initial_s`` doubling to ``poll_max_s``); the result."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        start, delay = self._clock(), self.poll_initial_s
        while pending := self._look():
            waited = self._clock() - start
            if waited >= timeout:
                raise AsyncInferenceTimeout(waited, pending)
            self._sleep(min(delay, timeout - waited))
            delay = min(delay * 2, self.poll_max_s)
        return self._finish([self._answers[index] for index in range(len(self.invocations))])
