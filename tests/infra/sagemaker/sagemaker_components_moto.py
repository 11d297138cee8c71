"""What moto 5 lacks for inference components, added to its SageMaker responder for one test (like conftest's
UpdateEndpoint):

- ``CreateInferenceComponent``, ``DescribeInferenceComponent``, ``ListInferenceComponents``,
  ``UpdateInferenceComponent``, ``DeleteInferenceComponent``: kept in ``Components.live``; the endpoint and model must
  exist; a component whose name starts with ``broken`` is ``Failed`` with ``BROKEN_REASON``. Every request is kept
  in ``Components.requests``.
- ``CreateEndpointConfig`` with a variant that names no model (what components need): moto insists on ``ModelName``.
- Application Auto Scaling's ``sagemaker:inference-component:DesiredCopyCount`` dimension.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import pytest
from moto.applicationautoscaling import models as autoscaling_models
from moto.applicationautoscaling import responses as autoscaling_responses
from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from sagemaker_testing import BROKEN_REASON

COPY_DIMENSION = "sagemaker:inference-component:DesiredCopyCount"


@dataclass
class Components:
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def install(monkeypatch: pytest.MonkeyPatch) -> Components:  # noqa: C901 - one closure per moto operation
    state = Components()

    def record(self: SageMakerResponse, operation: str) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.body)
        state.requests.append((operation, body))
        return body

    def find(name: str) -> dict[str, Any]:
        if name not in state.live:
            raise ValidationError(message=f"Could not find inference component '{name}'.")
        return state.live[name]

    def create(self: SageMakerResponse) -> ActionResult:
        body = record(self, "CreateInferenceComponent")
        backend = self.sagemaker_backend
        if body["EndpointName"] not in backend.endpoints:
            raise ValidationError(message=f"Could not find endpoint '{body['EndpointName']}'.")
        if body["Specification"]["ModelName"] not in backend._models:
            raise ValidationError(message=f"Could not find model '{body['Specification']['ModelName']}'.")
        name = body["InferenceComponentName"]
        broken = name.startswith("broken")
        state.live[name] = {
            "InferenceComponentName": name, "InferenceComponentArn": f"arn:aws:sagemaker:us-east-1:123456789012:"
            f"inference-component/{name}", "EndpointName": body["EndpointName"], "VariantName": body["VariantName"],
            "Specification": body["Specification"], "InferenceComponentStatus": "Failed" if broken else "InService",
            "RuntimeConfig": {"DesiredCopyCount": body["RuntimeConfig"]["CopyCount"],
                              "CurrentCopyCount": body["RuntimeConfig"]["CopyCount"]},
            **({"FailureReason": BROKEN_REASON} if broken else {}),
        }  # fmt: skip
        return ActionResult({"InferenceComponentArn": state.live[name]["InferenceComponentArn"]})

    def describe(self: SageMakerResponse) -> ActionResult:
        return ActionResult(find(record(self, "DescribeInferenceComponent")["InferenceComponentName"]))

    def list_components(self: SageMakerResponse) -> ActionResult:
        endpoint = record(self, "ListInferenceComponents").get("EndpointNameEquals")
        items = [{key: c[key] for key in ("InferenceComponentName", "InferenceComponentArn", "EndpointName",
                                          "VariantName", "InferenceComponentStatus")}
                 for c in state.live.values() if endpoint in (None, c["EndpointName"])]  # fmt: skip
        return ActionResult({"InferenceComponents": items})

    def update(self: SageMakerResponse) -> ActionResult:
        body = record(self, "UpdateInferenceComponent")
        component = find(body["InferenceComponentName"])
        component["Specification"] = body.get("Specification", component["Specification"])
        if "RuntimeConfig" in body:
            copies = body["RuntimeConfig"]["CopyCount"]
            component["RuntimeConfig"] = {"DesiredCopyCount": copies, "CurrentCopyCount": copies}
        return ActionResult({"InferenceComponentArn": component["InferenceComponentArn"]})

    def delete(self: SageMakerResponse) -> EmptyResult:
        name = record(self, "DeleteInferenceComponent")["InferenceComponentName"]
        find(name)
        del state.live[name]
        return EmptyResult()

    operations = {"create_inference_component": create, "describe_inference_component": describe,
                  "list_inference_components": list_components, "update_inference_component": update,
                  "delete_inference_component": delete}  # fmt: skip
    for name, method in operations.items():
        monkeypatch.setattr(SageMakerResponse, name, method, raising=False)
    original = SageMakerModelBackend.validate_production_variants

    def validate(self: SageMakerModelBackend, variants: list[dict[str, Any]]) -> None:
        original(self, [v for v in variants if "ModelName" in v])  # a components variant names no model

    monkeypatch.setattr(SageMakerModelBackend, "validate_production_variants", validate)
    _add_copy_dimension(monkeypatch)
    return state


def _add_copy_dimension(monkeypatch: pytest.MonkeyPatch) -> None:
    known = autoscaling_models.ScalableDimensionValueSet
    if COPY_DIMENSION in {member.value for member in known}:
        return
    members = {member.name: member.value for member in known}
    extended = Enum("ScalableDimensionValueSet", {**members, "SAGEMAKER_INFERENCE_COMPONENT": COPY_DIMENSION})
    for module in (autoscaling_models, autoscaling_responses):
        monkeypatch.setattr(module, "ScalableDimensionValueSet", extended)
