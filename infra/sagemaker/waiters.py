"""Polling with progress lines and clear failure reasons.

botocore's waiters (``endpoint_in_service`` ...) neither report progress nor surface ``FailureReason``;
this loop does both. ``sleep`` and ``clock`` are injectable so tests never wait.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError


class DeploymentError(RuntimeError):
    """A resource ended in a failed state, timed out, or the requested change is not possible."""


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Poller:
    """How to wait: poll every ``interval_s``, give up after ``timeout_s``, report through ``report``."""

    interval_s: float = 15.0
    timeout_s: float = 3600.0
    heartbeat_s: float = 60.0
    report: Callable[[str], None] = _stderr
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = field(default=time.monotonic)

    def wait(self, what: str, describe: Callable[[], dict[str, Any] | None], status_key: str,
             done: frozenset[str], failed: frozenset[str], hint: str = "") -> dict[str, Any]:  # fmt: skip
        """Poll ``describe`` until its status is in ``done`` (returned) or ``failed`` (raises with the
        ``FailureReason``). ``describe`` returning None reads as status ``Deleted``."""
        start = last_report = self.clock()
        previous = None
        while True:
            state = describe()
            status = state.get(status_key, "Unknown") if state is not None else "Deleted"
            now = self.clock()
            if status != previous or now - last_report >= self.heartbeat_s:
                self.report(f"{what}: {status} ({now - start:.0f}s)")
                previous, last_report = status, now
            if status in done:
                return state or {}
            if status in failed:
                reason = (state or {}).get("FailureReason") or "no FailureReason given"
                raise DeploymentError(f"{what} is {status}: {reason}{hint}")
            if now - start >= self.timeout_s:
                raise DeploymentError(f"{what} still {status} after {self.timeout_s:.0f}s; gave up waiting{hint}")
            self.sleep(self.interval_s)


def not_found(err: ClientError) -> bool:
    """SageMaker's 'does not exist' is a ValidationException whose message says 'Could not find'."""
    error = err.response.get("Error", {})
    return error.get("Code") in ("ValidationException", "ResourceNotFound") and "find" in error.get("Message", "")


def describe_or_none(describe: Callable[..., dict[str, Any]], **params: Any) -> dict[str, Any] | None:
    try:
        return describe(**params)
    except ClientError as err:
        if not_found(err):
            return None
        raise


def logs_hint(endpoint_name: str) -> str:
    return f" (container logs: CloudWatch log group /aws/sagemaker/Endpoints/{endpoint_name})"


ENDPOINT_FAILED = frozenset({"Failed", "OutOfService", "UpdateRollbackFailed"})


def endpoint_in_service(sagemaker: Any, name: str, poller: Poller) -> dict[str, Any]:
    return poller.wait(
        f"endpoint {name}",
        lambda: describe_or_none(sagemaker.describe_endpoint, EndpointName=name),
        "EndpointStatus",
        frozenset({"InService"}),
        ENDPOINT_FAILED | {"Deleted"},
        logs_hint(name),
    )


def endpoint_deleted(sagemaker: Any, name: str, poller: Poller) -> None:
    poller.wait(
        f"endpoint {name}",
        lambda: describe_or_none(sagemaker.describe_endpoint, EndpointName=name),
        "EndpointStatus",
        frozenset({"Deleted"}),
        frozenset({"Failed"}),
    )


def transform_job_done(sagemaker: Any, name: str, poller: Poller) -> dict[str, Any]:
    return poller.wait(
        f"transform job {name}",
        lambda: sagemaker.describe_transform_job(TransformJobName=name),
        "TransformJobStatus",
        frozenset({"Completed"}),
        frozenset({"Failed", "Stopped"}),
        f" (logs: CloudWatch log group /aws/sagemaker/TransformJobs, stream prefix {name})",
    )
