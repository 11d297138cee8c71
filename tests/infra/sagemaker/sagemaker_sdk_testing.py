"""Running the SageMaker Python SDK page (docs/guides/sagemaker/python-sdk.md) in tests.

- :class:`DocCode`: the page's Python blocks marked ``<!-- sagemaker-sdk: <v2|v3> <step> -->``, run one step at a
  time in one namespace (the test reads and sets its variables between steps).
- :func:`sagemaker_like_describes`: moto's ``Describe*`` answers carry empty structures for unset fields
  (``VpcConfig: {}``, ``DataCaptureConfig: {}``) where SageMaker leaves them out; sagemaker-core's pydantic shapes
  refuse the empty ones. Patched for the test (in moto's responder: its backend still sees its own dicts).
- :class:`Wire`: a ``before-call`` hook recording each request's operation and parameters as sent.
- :func:`cli_requests`: what ``python -m infra.sagemaker deploy`` sends for the page's settings, to compare with.
- :func:`sdk_config`: an SDK defaults file with ``TelemetryOptOut`` (no telemetry request from the tests).
- :func:`seller_package`: the Marketplace model package, created in moto with the seller's real request.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from infra.sagemaker import plan
from infra.sagemaker.config import DeployConfig

REPO = Path(__file__).resolve().parents[3]
PAGE = REPO / "docs" / "guides" / "sagemaker" / "python-sdk.md"
MARKER = re.compile(r"^<!-- sagemaker-sdk: (?P<version>v\d) (?P<step>[\w-]+) -->$")
FENCE = re.compile(r"^```(?P<lang>\w*)$")
MOTO_INSTANCE_TYPE = "ml.g4dn.xlarge"  # moto 5's instance-type list predates ml.g5 (the page's)
DOC_INSTANCE_TYPE = "ml.g5.xlarge"
TELEMETRY_OFF = "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"


def page_blocks(version: str) -> dict[str, str]:
    """``{step: code}`` of the page's blocks for ``version``; each marker is right above a ```python fence."""
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    found: dict[str, str] = {}
    for i, line in enumerate(lines):
        match = MARKER.match(line)
        if not match or match["version"] != version:
            continue
        fence = FENCE.match(lines[i + 1])
        assert fence and fence["lang"] == "python", f"{PAGE.name}:{i + 1}: a marker must sit right above ```python"
        end = lines.index("```", i + 2)
        assert match["step"] not in found, f"{PAGE.name}:{i + 1}: step {match['step']} twice"
        found[match["step"]] = "\n".join(lines[i + 2 : end]) + "\n"
    return found


class DocCode:
    """The page's blocks for one SDK version, run step by step in one namespace."""

    def __init__(self, version: str) -> None:
        self.blocks = page_blocks(version)
        self.ns: dict[str, Any] = {"__name__": f"python_sdk_page_{version}"}
        self.version = version

    def run(self, step: str) -> None:
        code = compile(self.blocks[step], f"{PAGE.name} [{self.version} {step}]", "exec")
        exec(code, self.ns)  # noqa: S102 - the documentation's own example code

    def __getitem__(self, name: str) -> Any:
        return self.ns[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self.ns[name] = value


def sagemaker_like_describes(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core.responses import ActionResult
    from moto.sagemaker.responses import SageMakerResponse

    def without_empty(name: str) -> None:
        original = getattr(SageMakerResponse, name)

        def describe(self: SageMakerResponse) -> ActionResult:
            result = original(self).result
            assert isinstance(result, dict)
            return ActionResult({key: value for key, value in result.items() if value not in ({}, [])})

        monkeypatch.setattr(SageMakerResponse, name, describe)

    for operation in ("describe_model", "describe_endpoint_config", "describe_endpoint"):
        without_empty(operation)


class Wire:
    """``before-call`` hook: ``(operation, params)`` of every request, the body JSON-decoded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        body = params.get("body")
        decoded = json.loads(body) if body and model.service_model.service_name == "sagemaker" else {}
        self.calls.append((model.name, decoded))

    def bodies(self, operation: str) -> list[dict[str, Any]]:
        return [body for name, body in self.calls if name == operation]

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]


def cli_requests(page: DocCode, environment: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(CreateModel params, the endpoint config's variant) that ``infra.sagemaker`` builds for the page's settings."""
    cfg = DeployConfig(
        endpoint_name=page["endpoint_name"],
        image_uri=page["image_uri"],
        role_arn=page["role_arn"],
        model_data=page["model_data_url"],
        instance_type=page["instance_type"],
        environment=environment,
    )
    model = plan.create_model(cfg, page["endpoint_name"], cfg.model_data).params
    return model, plan.production_variant(cfg, page["endpoint_name"])


def assert_sent_like_the_cli(wire: Wire, page: DocCode, environment: dict[str, str]) -> None:
    """The SDK's CreateModel and CreateEndpointConfig carry the CLI's container, isolation and variant."""
    cli_model, cli_variant = cli_requests(page, environment)
    (model,) = wire.bodies("CreateModel")
    (config,) = wire.bodies("CreateEndpointConfig")
    container = dict(cli_model["PrimaryContainer"])
    assert container.pop("Mode") == "SingleModel"  # SageMaker's default; the SDK leaves it out
    assert model["PrimaryContainer"] == container
    assert (model["ExecutionRoleArn"], model["EnableNetworkIsolation"]) == (cli_model["ExecutionRoleArn"], True)
    assert config["ProductionVariants"] == [cli_variant]  # names, counts, timeouts, routing (tags aside)
    (endpoint,) = wire.bodies("CreateEndpoint")
    endpoint.pop("Tags", None)  # v2 sends an empty list
    assert endpoint == {"EndpointName": page["endpoint_name"], "EndpointConfigName": page["endpoint_name"]}


def assert_vectors_match(texts: list[str], vectors: list[list[float]], reference: Any) -> None:
    """The service's vectors are sentence-transformers' (unit length, cosine >= 0.9999 per text)."""
    ours = np.array(vectors, dtype=np.float64)
    expected = reference.encode(texts, normalize_embeddings=True)
    assert ours.shape == expected.shape == (len(texts), 384)
    assert (ours * expected).sum(1).min() >= 0.9999


def seller_package(sagemaker: Any) -> str:
    """ARN of the listing's model package (marketplace/package.example.json), created in moto. Its container carries
    a ``ProductId``, as a subscriber's ``DescribeModelPackage`` of a Marketplace listing shows (the v2 SDK reads it)."""
    from marketplace import model_package as mp

    request = mp.build_request(mp.load_config(REPO / "marketplace" / "package.example.json"))
    request["ModelPackageName"] = "sdk-test-package"
    for container in request["InferenceSpecification"]["Containers"]:
        container["ProductId"] = "prod-sdktest1234567"
    return str(mp.create(sagemaker, request, interval_s=0)["ModelPackageArn"])


def sdk_config(tmp_path: Path) -> Path:
    path = tmp_path / "sagemaker-sdk-config.yaml"
    path.write_text(TELEMETRY_OFF, encoding="utf-8")
    return path


def assert_update_keeps_the_variant_properties(page: DocCode, aws: Any, client: Any) -> None:
    """The page's update block sends ``RetainAllVariantProperties`` (``client``: the SDK session's boto3 client)."""
    page.run("deploy")
    variant = client.describe_endpoint_config(EndpointConfigName="emb-sdk")["ProductionVariants"][0]
    client.create_endpoint_config(EndpointConfigName="emb-sdk-v2", ProductionVariants=[variant])
    page["new_config_name"] = "emb-sdk-v2"

    page.run("update")

    (request,) = aws.update.requests
    expected = {"EndpointName": "emb-sdk", "EndpointConfigName": "emb-sdk-v2", "RetainAllVariantProperties": True}
    assert request == expected
    assert client.describe_endpoint(EndpointName="emb-sdk")["EndpointConfigName"] == "emb-sdk-v2"


def assert_nothing_left(client: Any) -> None:
    assert client.list_endpoints()["Endpoints"] == []
    assert client.list_endpoint_configs()["EndpointConfigs"] == []
    assert client.list_models()["Models"] == []
