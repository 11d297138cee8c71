"""Fixtures for the Vertex AI infra tests: in-memory fake clients that record the SDK request messages."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

pytest.importorskip("google.cloud.aiplatform_v1", reason="google-cloud-aiplatform is not installed (.[infra])")

from google.api_core.exceptions import NotFound  # noqa: E402
from google.cloud import aiplatform_v1 as v1  # noqa: E402

IMAGE = "us-central1-docker.pkg.dev/proj/embeddings/embed:1.0.0"
PROJECT_NUMBER = "123456789012"  # the number of the project the tests call "proj"


class _Done:
    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self, timeout: float | None = None) -> Any:
        return self.value


class FakeVertex:
    """Both services in one in-memory project; ``calls`` is [(rpc, request message)] in order. Every method
    insists on receiving the SDK's request message type (what the real clients take). As the real API, it takes
    the project by id or number in request names and answers with resource names that hold its number; a
    dedicated endpoint gets a DNS name."""

    def __init__(self, project: str = "proj", number: str = PROJECT_NUMBER) -> None:
        self.project, self.number = project, number
        self.calls: list[tuple[str, Any]] = []
        self.models_db: dict[str, v1.Model] = {}
        self.endpoints_db: dict[str, v1.Endpoint] = {}
        self.next_id = 1000
        self.models = self
        self.endpoints = self

    def _record(self, rpc: str, request: Any, kind: type) -> None:
        assert isinstance(request, kind), (rpc, type(request))
        self.calls.append((rpc, request))

    def rpcs(self) -> list[str]:
        return [rpc for rpc, _ in self.calls if not rpc.startswith("get_")]

    def _name(self, name: str) -> str:
        """A resource name as Vertex writes it: ``projects/NUMBER/...``."""
        return name.replace(f"projects/{self.project}/", f"projects/{self.number}/", 1)

    def get_model(self, request: v1.GetModelRequest) -> v1.Model:
        self._record("get_model", request, v1.GetModelRequest)
        if self._name(request.name) not in self.models_db:
            raise NotFound(request.name)
        return self.models_db[self._name(request.name)]

    def upload_model(self, request: v1.UploadModelRequest) -> _Done:
        self._record("upload_model", request, v1.UploadModelRequest)
        name = self._name(f"{request.parent}/models/{request.model_id}")
        self.models_db[name] = v1.Model(request.model, name=name)
        return _Done(v1.UploadModelResponse(model=name))

    def delete_model(self, request: v1.DeleteModelRequest) -> _Done:
        self._record("delete_model", request, v1.DeleteModelRequest)
        if self.models_db.pop(self._name(request.name), None) is None:
            raise NotFound(request.name)
        return _Done(None)

    def get_endpoint(self, request: v1.GetEndpointRequest) -> v1.Endpoint:
        self._record("get_endpoint", request, v1.GetEndpointRequest)
        if self._name(request.name) not in self.endpoints_db:
            raise NotFound(request.name)
        return v1.Endpoint(self.endpoints_db[self._name(request.name)])

    def create_endpoint(self, request: v1.CreateEndpointRequest) -> _Done:
        self._record("create_endpoint", request, v1.CreateEndpointRequest)
        name = self._name(f"{request.parent}/endpoints/{request.endpoint_id}")
        self.endpoints_db[name] = v1.Endpoint(request.endpoint, name=name)
        if request.endpoint.dedicated_endpoint_enabled:
            region = request.parent.rsplit("/", 1)[-1]
            dns = f"{request.endpoint_id}.{region}-{self.number}.prediction.vertexai.goog"
            self.endpoints_db[name].dedicated_endpoint_dns = dns
        return _Done(self.endpoints_db[name])

    def deploy_model(self, request: v1.DeployModelRequest) -> _Done:
        self._record("deploy_model", request, v1.DeployModelRequest)
        endpoint = self.endpoints_db[self._name(request.endpoint)]
        assert self._name(request.deployed_model.model) in self.models_db
        assert sum(request.traffic_split.values()) == 100
        self.next_id += 1
        model = self._name(request.deployed_model.model)
        deployed = v1.DeployedModel(request.deployed_model, id=str(self.next_id), model=model)
        endpoint.deployed_models.append(deployed)
        split = {(deployed.id if k == "0" else k): v for k, v in request.traffic_split.items()}
        endpoint.traffic_split = split
        return _Done(v1.DeployModelResponse(deployed_model=deployed))

    def update_endpoint(self, request: v1.UpdateEndpointRequest) -> v1.Endpoint:
        self._record("update_endpoint", request, v1.UpdateEndpointRequest)
        assert list(request.update_mask.paths) == ["traffic_split"]
        endpoint = self.endpoints_db[self._name(request.endpoint.name)]
        assert set(request.endpoint.traffic_split) <= {d.id for d in endpoint.deployed_models}
        assert sum(request.endpoint.traffic_split.values()) == 100
        endpoint.traffic_split = dict(request.endpoint.traffic_split)
        return endpoint

    def mutate_deployed_model(self, request: v1.MutateDeployedModelRequest) -> _Done:
        self._record("mutate_deployed_model", request, v1.MutateDeployedModelRequest)
        return _Done(v1.MutateDeployedModelResponse(deployed_model=request.deployed_model))

    def undeploy_model(self, request: v1.UndeployModelRequest) -> _Done:
        self._record("undeploy_model", request, v1.UndeployModelRequest)
        endpoint = self.endpoints_db[self._name(request.endpoint)]
        split = dict(request.traffic_split) or dict(endpoint.traffic_split)
        # Vertex: undeploys only a model the (new) split gives no traffic.
        assert split.get(request.deployed_model_id, 0) == 0 or len(endpoint.deployed_models) == 1
        kept = [d for d in endpoint.deployed_models if d.id != request.deployed_model_id]
        assert len(kept) == len(endpoint.deployed_models) - 1
        endpoint.deployed_models = kept
        endpoint.traffic_split = {k: v for k, v in split.items() if k != request.deployed_model_id}
        return _Done(None)

    def delete_endpoint(self, request: v1.DeleteEndpointRequest) -> _Done:
        self._record("delete_endpoint", request, v1.DeleteEndpointRequest)
        assert not self.endpoints_db[self._name(request.name)].deployed_models
        del self.endpoints_db[self._name(request.name)]
        return _Done(None)
