"""In-memory fake of the Azure ML (ARM) control plane and scoring endpoint, at the HTTP layer.

It also answers Azure Monitor's ``Microsoft.Insights/autoscalesettings`` (plain, synchronous PUT, GET, list by
resource group and DELETE). As in Azure, deleting an endpoint or a deployment leaves its autoscale settings alone.

``FakeArm`` answers the ``requests`` calls azure-core makes (via the ``responses`` library), keeps PUT
resources in a dict so later GETs see them, completes every long-running operation at once, and
records each request for assertions. Unmatched URLs raise ``ConnectionError`` inside ``responses``,
so nothing can reach real Azure. All keys and tokens are fixed fake strings.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

ARM = "https://management.azure.com"
LOCATION = "westeurope"
FAKE_ARM_TOKEN = "fake-arm-token"
FAKE_ENDPOINT_KEY = "fake-endpoint-primary-key"
FAKE_PRINCIPAL_ID = "11111111-1111-1111-1111-111111111111"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "rg-test"
WORKSPACE = "ws-test"
WS_PATH = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
    f"/providers/Microsoft.MachineLearningServices/workspaces/{WORKSPACE}"
)
LRO_TYPES = ("onlineEndpoints",)  # endpoints and their deployments answer 201 + Azure-AsyncOperation


@dataclass(frozen=True)
class Recorded:
    """One request the SDK sent."""

    method: str
    url: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeCredential:
    """``TokenCredential`` returning a fixed fake token (no identity library, no network)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(FAKE_ARM_TOKEN, int(time.time()) + 3600)


class FakeArm:
    """Minimal stateful ARM + scoring endpoint for Microsoft.MachineLearningServices workspaces."""

    def __init__(self) -> None:
        self.resources: dict[str, dict[str, Any]] = {}
        self.requests: list[Recorded] = []
        self.scoring_requests: list[Recorded] = []
        self.fail_put: dict[str, tuple[int, str]] = {}  # path suffix -> (status, ARM error code)
        self.fail_get: dict[str, tuple[int, str]] = {}  # the same for GETs (e.g. a list Azure refuses with 403)
        self.workspace_properties: dict[str, Any] = {}  # e.g. {"managedNetwork": {"isolationMode": ...}}

    # -- helpers for tests -------------------------------------------------------------------------
    def calls(self, method: str, contains: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.method == method and contains in r.path]

    def put_body(self, path_suffix: str) -> dict[str, Any]:
        """Body of the last PUT whose path ends with ``path_suffix``."""
        matches = [r for r in self.requests if r.method == "PUT" and r.path.endswith(path_suffix)]
        assert matches, f"no PUT to ...{path_suffix}; saw {[r.method + ' ' + r.path for r in self.requests]}"
        return matches[-1].body

    # -- HTTP plumbing -----------------------------------------------------------------------------
    def install(self, rsps: Any) -> None:
        import responses

        any_arm = re.compile(re.escape(ARM) + r"/.*")
        for method in (responses.GET, responses.PUT, responses.POST, responses.DELETE, responses.PATCH):
            rsps.add_callback(method, any_arm, callback=self._arm)
        rsps.add_callback(responses.POST, re.compile(r"https://[^/]+\.inference\.ml\.azure\.com/.*"), self._score)

    @staticmethod
    def _record(request: Any) -> Recorded:
        raw = request.body
        if isinstance(raw, bytes):
            raw = raw.decode()
        body = json.loads(raw) if raw else None
        path = urlsplit(request.url).path
        return Recorded(request.method, request.url, path, dict(request.headers), body)

    @staticmethod
    def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(payload)

    def _not_found(self, path: str) -> tuple[int, dict[str, str], str]:
        return self._json(404, {"error": {"code": "ResourceNotFound", "message": f"{path} not found"}})

    def _arm(self, request: Any) -> tuple[int, dict[str, str], str]:
        rec = self._record(request)
        self.requests.append(rec)
        assert rec.headers.get("Authorization") == f"Bearer {FAKE_ARM_TOKEN}", "ARM call without the credential"
        key = rec.path.rstrip("/").lower()
        if "/operationstatus/" in key:
            return self._json(200, {"status": "Succeeded"})
        handler = {"PUT": self._put, "GET": self._get, "DELETE": self._delete, "POST": self._post}.get(rec.method)
        return handler(rec, key) if handler else self._not_found(rec.path)

    def _lro_headers(self) -> dict[str, str]:
        op = f"{ARM}/providers/Microsoft.MachineLearningServices/locations/{LOCATION}/operationStatus/{uuid.uuid4()}"
        return {"Azure-AsyncOperation": f"{op}?api-version=2024-04-01", "Retry-After": "0"}

    def _put(self, rec: Recorded, key: str) -> tuple[int, dict[str, str], str]:
        for suffix, (status, code) in self.fail_put.items():
            if rec.path.endswith(suffix):
                return self._json(status, {"error": {"code": code, "message": f"fake {code}"}})
        name = rec.path.rstrip("/").rsplit("/", 1)[1]
        stored = json.loads(json.dumps(rec.body or {}))
        stored.update(id=rec.path, name=name)
        props = stored.setdefault("properties", {})
        props["provisioningState"] = "Succeeded"
        if "/models/" in key:
            props.setdefault("flavors", {})
        if "/deployments/" in key:
            props.setdefault("scaleSettings", {"scaleType": "Default"})
        if re.search(r"/onlineendpoints/[^/]+$", key):
            props["scoringUri"] = f"https://{name}.{LOCATION}.inference.ml.azure.com/score"
            props["swaggerUri"] = f"https://{name}.{LOCATION}.inference.ml.azure.com/swagger.json"
            if "identity" in stored:
                stored["identity"].update(principalId=FAKE_PRINCIPAL_ID, tenantId=FAKE_PRINCIPAL_ID)
        self.resources[key] = stored
        if any(t.lower() in key for t in LRO_TYPES):
            return self._json(201, stored, self._lro_headers())
        return self._json(200, stored)

    def _get(self, rec: Recorded, key: str) -> tuple[int, dict[str, str], str]:
        for suffix, (status, code) in self.fail_get.items():
            if rec.path.endswith(suffix):
                return self._json(status, {"error": {"code": code, "message": f"fake {code}"}})
        if key == WS_PATH.lower():
            body = {"id": WS_PATH, "name": WORKSPACE, "location": LOCATION, "properties": self.workspace_properties}
            return self._json(200, body)
        if key in self.resources:
            return self._json(200, self.resources[key])
        if key.endswith(("/deployments", "/versions", "/autoscalesettings")):  # collections
            prefix = key + "/"
            children = [v for k, v in self.resources.items() if k.startswith(prefix) and "/" not in k[len(prefix) :]]
            return self._json(200, {"value": children})
        return self._not_found(rec.path)

    def _delete(self, rec: Recorded, key: str) -> tuple[int, dict[str, str], str]:
        if key not in self.resources:
            return self._not_found(rec.path)
        for k in [k for k in self.resources if k == key or k.startswith(key + "/")]:
            del self.resources[k]
        if "/autoscalesettings/" in key:  # Azure Monitor deletes synchronously
            return 200, {}, ""
        return 202, self._lro_headers(), ""

    def _post(self, rec: Recorded, key: str) -> tuple[int, dict[str, str], str]:
        endpoint_key = key.rsplit("/", 1)[0]
        if key.endswith("/listkeys") and endpoint_key in self.resources:
            return self._json(200, {"primaryKey": FAKE_ENDPOINT_KEY, "secondaryKey": "fake-endpoint-secondary-key"})
        if key.endswith("/getlogs") and endpoint_key in self.resources:
            return self._json(200, {"content": "fake log line: model loaded, /ping 200"})
        return self._not_found(rec.path)

    def _score(self, request: Any) -> tuple[int, dict[str, str], str]:
        rec = self._record(request)
        self.scoring_requests.append(rec)
        if rec.headers.get("Authorization") != f"Bearer {FAKE_ENDPOINT_KEY}":
            return self._json(401, {"error": "unauthorized"})
        if "query" in rec.body:  # a rerank request: what the container answers with a reranker loaded
            return self._json(200, self._rerank(rec.body))
        if "inputs" in rec.body:  # TEI's /embed_sparse body: what the container answers with a sparse model loaded
            texts = rec.body["inputs"] if isinstance(rec.body["inputs"], list) else [rec.body["inputs"]]
            return self._json(200, [[{"index": 7 + i, "value": 0.5}] for i in range(len(texts))])
        inputs = rec.body["input"] if isinstance(rec.body["input"], list) else [rec.body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3, 0.4]} for i in range(len(inputs))]
        return self._json(200, {"object": "list", "model": "fake", "data": data, "usage": {"total_tokens": 3}})

    @staticmethod
    def _rerank(body: dict[str, Any]) -> dict[str, Any]:
        """Jina/Cohere rerank response: a later document scores lower (0.9, 0.8, ...), best first, ``top_n``."""
        documents = body["documents"]
        results = [{"index": i, "relevance_score": round(0.9 - 0.1 * i, 6), "document": {"text": text}}
                   for i, text in enumerate(documents)]  # fmt: skip
        return {"model": "fake-reranker", "usage": {"total_tokens": 7}, "results": results[: body.get("top_n")]}
