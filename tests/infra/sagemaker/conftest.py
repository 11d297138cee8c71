"""Fixtures for the SageMaker infra tests: moto in server mode (real HTTP, boto3 unchanged).

- ``moto_url``: one ``ThreadedMotoServer`` on 127.0.0.1:<free port> for the session.
- ``aws``: per test, fake credentials and ``AWS_ENDPOINT_URL`` pointing at moto (so unchanged boto3 code,
  the CLI included, talks to moto), and a reset of moto's state through its HTTP API.
- ``boto``: a boto3 ``Session`` whose ``before-call`` hook records every request body exactly as
  serialised for the wire, for the fields moto drops (``EnableNetworkIsolation``) or rejects (``ml.g5``);
  ``cli(argv)`` runs the CLI's ``main`` with that session.
- moto 5 has no ``UpdateEndpoint``; ``aws`` adds one to moto's SageMaker responder for the test: it
  switches the endpoint to the new config, or, when ``moto_update.rollback_reason`` is set, keeps the old
  one and sets ``FailureReason`` (what SageMaker does after an alarm rollback). Endpoints whose name
  starts with ``broken`` are created ``Failed`` with a FailureReason (moto creates everything InService).
- moto 5's Application Auto Scaling knows ``sagemaker:variant:DesiredInstanceCount`` but not
  ``sagemaker:variant:DesiredProvisionedConcurrency`` (serverless provisioned concurrency, in botocore's model
  since 2023); ``aws`` adds it to moto's list of dimensions for the test, nothing else changes.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
import requests
from botocore.loaders import create_loader
from moto.applicationautoscaling import models as autoscaling_models
from moto.applicationautoscaling import responses as autoscaling_responses
from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.responses import SageMakerResponse
from moto.server import ThreadedMotoServer

REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:  # `infra` is not an installed package; tests import it from the checkout
    sys.path.insert(0, str(REPO_ROOT))

from sagemaker_testing import BROKEN_REASON, REGION  # noqa: E402

from infra.sagemaker.cli import main  # noqa: E402


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class MotoUpdate:
    """Controls and records the UpdateEndpoint that the tests add to moto."""

    rollback_reason: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)


def _install_moto_extensions(monkeypatch: pytest.MonkeyPatch, state: MotoUpdate) -> None:
    original_create = SageMakerResponse.create_endpoint

    def update_endpoint(self: SageMakerResponse) -> ActionResult:
        state.requests.append(json.loads(self.body))
        name, config = self._get_param("EndpointName"), self._get_param("EndpointConfigName")
        backend = self.sagemaker_backend
        if name not in backend.endpoints:
            raise ValidationError(message=f"Could not find endpoint '{name}'.")
        endpoint = backend.endpoints[name]
        if state.rollback_reason:
            endpoint.failure_reason = state.rollback_reason
        else:
            variants = backend.describe_endpoint_config(config)["ProductionVariants"]
            endpoint.endpoint_config_name = config
            endpoint.production_variants = endpoint._process_production_variants(variants)
        return ActionResult({"EndpointArn": endpoint.arn})

    def create_endpoint(self: SageMakerResponse) -> ActionResult:
        result = original_create(self)
        name = self._get_param("EndpointName")
        if name.startswith("broken"):
            endpoint = self.sagemaker_backend.endpoints[name]
            endpoint.endpoint_status, endpoint.failure_reason = "Failed", BROKEN_REASON
        return result

    monkeypatch.setattr(SageMakerResponse, "update_endpoint", update_endpoint, raising=False)
    monkeypatch.setattr(SageMakerResponse, "create_endpoint", create_endpoint)
    _add_provisioned_concurrency_dimension(monkeypatch)


PROVISIONED_DIMENSION = "sagemaker:variant:DesiredProvisionedConcurrency"


def _add_provisioned_concurrency_dimension(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's scalable-dimension enum, plus the serverless provisioned-concurrency dimension."""
    known = autoscaling_models.ScalableDimensionValueSet
    if PROVISIONED_DIMENSION in {member.value for member in known}:
        return  # a moto that has it already
    members = {member.name: member.value for member in known}
    extended = Enum("ScalableDimensionValueSet", {**members, "SAGEMAKER_VARIANT_PROVISIONED": PROVISIONED_DIMENSION})
    for module in (autoscaling_models, autoscaling_responses):
        monkeypatch.setattr(module, "ScalableDimensionValueSet", extended)


@dataclass
class Aws:
    url: str
    update: MotoUpdate


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Aws:
    """Fake credentials, region and AWS_ENDPOINT_URL=moto for this test; moto state reset."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    requests.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    state = MotoUpdate()
    _install_moto_extensions(monkeypatch, state)
    return Aws(moto_url, state)


class Capture:
    """``before-call`` hook: ``(service, operation, body)`` of every request, body JSON-decoded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        body = params.get("body")
        try:
            decoded = json.loads(body) if body else {}
        except (TypeError, ValueError):
            decoded = None  # S3 payloads
        self.calls.append((model.service_model.service_name, model.name, decoded))

    def operations(self) -> list[str]:
        return [operation for _, operation, _ in self.calls]

    def bodies(self, operation: str) -> list[Any]:
        return [body for _, name, body in self.calls if name == operation]


@pytest.fixture(scope="session")
def botocore_loader() -> Any:
    """One botocore data loader for all sessions: the SageMaker API model is parsed once, not per test."""
    return create_loader()


@dataclass
class Boto:
    """A boto3 session whose every request is recorded in ``calls``; the CLI under test is given it."""

    session: boto3.Session
    calls: Capture

    def client(self, name: str) -> Any:
        return self.session.client(name)


@pytest.fixture
def boto(aws: Aws, botocore_loader: Any) -> Boto:
    core = botocore.session.get_session()
    core.register_component("data_loader", botocore_loader)
    session = boto3.Session(botocore_session=core, region_name=REGION)
    recorder = Capture()
    session.events.register("before-call", recorder)
    return Boto(session, recorder)


CliResult = tuple[int, Any, str]


@pytest.fixture
def cli(boto: Boto, capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """``cli(argv)`` -> (exit code, JSON stdout or None, stderr), AWS calls through ``boto``."""

    def run(argv: list[str]) -> CliResult:
        code = main(argv, boto.session)
        out, err = capsys.readouterr()
        return code, (json.loads(out) if out.strip() else None), err

    return run


@pytest.fixture
def sm(boto: Boto) -> Any:
    return boto.client("sagemaker")


@pytest.fixture
def scaling(boto: Boto) -> Any:
    return boto.client("application-autoscaling")


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "modules.json").write_text("[]")
    (folder / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    (folder / "model.safetensors").write_bytes(b"\0" * 64)
    return folder


# -- the SageMaker Python SDK page's tests (test_sagemaker_sdk_v2.py, test_sagemaker_sdk_v3.py) --------------------
@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """The real server on the embedded model, where the SDK's InvokeEndpoint is sent."""
    from marketplace.local_server import local_server

    with local_server() as url:
        yield url


@pytest.fixture(scope="module")
def reference() -> Any:
    from sentence_transformers import SentenceTransformer

    from inference.model_dir import embedded_model_dir

    return SentenceTransformer(str(embedded_model_dir()), device="cpu")
