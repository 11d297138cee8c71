"""The Kubernetes manifests (deploy/kubernetes): schema-valid, complete, and matching the server's contract.

Every manifest is validated offline against the Kubernetes OpenAPI schemas shipped in ``kubernetes-validate``
(strict: unknown fields fail). The overlays are rendered here by applying their strategic-merge patches and image
overrides (dicts merge, lists of named items merge by ``name``, anything else is replaced: all these patches need),
and the result is checked the same way; where ``kubectl`` is installed, the rendering is compared with
``kubectl kustomize``. The probes, port, user and grace period are compared with the server's own values; the
api-keys overlay's key file with the server's settings and key-file parser.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import AliasChoices

from inference.access.keys import parse_key_file
from inference.api.route_table import probe_paths, readiness_paths, route_table
from inference.model_dir import SAGEMAKER_MODEL_DIR
from inference.runtime.server import GRACEFUL_TIMEOUT_S
from inference.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
BASE = KUBE / "base"
OVERLAYS = sorted(p for p in (KUBE / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
KUSTOMIZATIONS = [BASE, *OVERLAYS]
# Oldest and newest Kubernetes minor versions the manifests are meant for (both shipped by kubernetes-validate).
KUBERNETES_VERSIONS = ("1.29.0", "1.33.0")

Doc = dict[str, Any]


def settings() -> Settings:
    """The server's defaults (the process environment is ignored)."""
    return Settings.model_construct()


def load_docs(path: Path) -> list[Doc]:
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    assert docs, f"{path}: no YAML documents"
    assert all(isinstance(doc, dict) for doc in docs), f"{path}: every document must be a mapping"
    return docs


def kustomization(folder: Path) -> Doc:
    (doc,) = load_docs(folder / "kustomization.yaml")
    assert doc["apiVersion"] == "kustomize.config.k8s.io/v1beta1" and doc["kind"] == "Kustomization"
    return doc


def patch_paths(kust: Doc) -> list[str]:
    return [patch["path"] for patch in kust.get("patches", [])]


def merge(base: Any, patch: Any) -> Any:
    """Strategic merge as far as these patches go: maps merge, lists of named maps merge by name."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(patch, list) and all(isinstance(i, dict) and "name" in i
                                                                  for i in base + patch):  # fmt: skip
        by_name = {item["name"]: item for item in base}
        merged = [merge(by_name[item["name"]], item) for item in patch if item["name"] in by_name]
        news = [copy.deepcopy(item) for item in patch if item["name"] not in by_name]
        patched = {item["name"] for item in patch}
        return news + merged + [item for item in base if item["name"] not in patched]
    return copy.deepcopy(patch)


def set_images(doc: Doc, images: list[Doc]) -> None:
    for container in doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
        name = re.split(r"[:@]", container["image"], maxsplit=1)[0]
        for image in images:
            if image["name"] == name:
                container["image"] = f"{image.get('newName', name)}:{image['newTag']}"


def render(folder: Path) -> list[Doc]:
    """The objects `kubectl apply -k folder` would create."""
    kust = kustomization(folder)
    docs: list[Doc] = []
    for resource in kust["resources"]:
        path = (folder / resource).resolve()
        docs += render(path) if path.is_dir() else load_docs(path)
    for patch_path in patch_paths(kust):
        for patch in load_docs(folder / patch_path):
            index = next(i for i, doc in enumerate(docs) if identity(doc) == identity(patch))
            docs[index] = merge(docs[index], patch)
    for doc in docs:
        set_images(doc, kust.get("images", []))
    return docs


def one(docs: list[Doc], kind: str) -> Doc:
    (doc,) = [doc for doc in docs if doc["kind"] == kind]
    return doc


def server_container(docs: list[Doc]) -> Doc:
    (container,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return container


def validate(doc: Doc) -> None:
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(doc, version, strict=True)


# --- files and schemas ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=lambda p: p.name)
def test_kustomization_lists_every_file(folder: Path) -> None:
    kust = kustomization(folder)
    listed = [r for r in kust["resources"] if not (folder / r).is_dir()] + patch_paths(kust)
    assert all((folder / name).is_file() for name in listed), listed
    assert sorted(listed) == sorted(p.name for p in folder.glob("*.yaml") if p.name != "kustomization.yaml")
    assert not list(folder.glob("*.yml")), "use .yaml"


def test_overlays_build_on_base() -> None:
    assert {p.name for p in OVERLAYS} == {"api-keys", "gpu", "model-pvc"}
    for overlay in OVERLAYS:
        assert "../../base" in kustomization(overlay)["resources"]


@pytest.mark.parametrize("path", sorted(p for p in BASE.glob("*.yaml") if p.name != "kustomization.yaml"),
                         ids=lambda p: p.name)  # fmt: skip
def test_base_manifest_matches_kubernetes_schema(path: Path) -> None:
    for doc in load_docs(path):
        validate(doc)


@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=lambda p: p.name)
def test_rendered_manifests_match_kubernetes_schema(folder: Path) -> None:
    docs = render(folder)
    assert {doc["kind"] for doc in docs} >= {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"}
    for doc in docs:
        validate(doc)


@pytest.mark.parametrize("breakage", ["unknown field", "port as text", "missing selector"])
def test_validator_rejects_broken_manifests(breakage: str) -> None:
    """The schema check can fail: each of these is a mistake the validator must catch."""
    deployment = copy.deepcopy(one(render(BASE), "Deployment"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    if breakage == "unknown field":
        container["readinesProbe"] = container.pop("readinessProbe")
    elif breakage == "port as text":
        container["ports"][0]["containerPort"] = "eighty"
    else:
        del deployment["spec"]["selector"]
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed (the Python rendering still runs)")
@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=lambda p: p.name)
def test_rendering_equals_kubectl_kustomize(folder: Path) -> None:
    out = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True, text=True, timeout=60, check=True)
    kubectl_docs = [doc for doc in yaml.safe_load_all(out.stdout) if doc is not None]
    assert sorted(kubectl_docs, key=identity) == sorted(render(folder), key=identity)


def identity(doc: Doc) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


# --- the server's contract -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=lambda p: p.name)
def test_probes_use_the_servers_routes(folder: Path) -> None:
    container = server_container(render(folder))
    ready = readiness_paths(settings())
    live = probe_paths(settings()) - ready
    assert container["readinessProbe"]["httpGet"]["path"] in ready
    assert container["startupProbe"]["httpGet"]["path"] in ready  # startup ends when the model is warm
    assert container["livenessProbe"]["httpGet"]["path"] in live
    assert container["livenessProbe"]["httpGet"]["path"] == settings().azure_live_route
    assert "/ping" in ready and settings().azure_ready_route in ready
    open_paths = {route.path for route in route_table(settings()) if route.open}
    for probe in ("readinessProbe", "startupProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == "http"
        assert container[probe]["httpGet"]["path"] in open_paths, "probes send no API key"
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300, "model load window of 5 min or more"


@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=lambda p: p.name)
def test_port_is_the_servers(folder: Path) -> None:
    docs = render(folder)
    (port,) = server_container(docs)["ports"]
    assert port == {"name": "http", "containerPort": settings().port, "protocol": "TCP"}
    (service_port,) = one(docs, "Service")["spec"]["ports"]
    assert service_port["port"] == 8080 and service_port["targetPort"] == "http"
    assert one(docs, "Service")["spec"]["type"] == "ClusterIP"


@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=lambda p: p.name)
def test_termination_grace_covers_prestop_and_drain(folder: Path) -> None:
    docs = render(folder)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    command = server_container(docs)["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop_s = int(command[1])
    assert 1 <= pre_stop_s <= 15
    # The grace period runs from the start of preStop: sleep, then SIGTERM and gunicorn's graceful_timeout.
    assert pod["terminationGracePeriodSeconds"] > pre_stop_s + GRACEFUL_TIMEOUT_S


def image_user() -> tuple[int, int]:
    (user,) = re.findall(r"^USER (\d+):(\d+)$", (ROOT / "container" / "Dockerfile").read_text(), re.MULTILINE)
    return int(user[0]), int(user[1])


@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=lambda p: p.name)
def test_security_context_matches_the_image(folder: Path) -> None:
    docs = render(folder)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    container = server_container(docs)
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == image_user() == (10001, 0)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]], "a writable /tmp on a read-only root filesystem"


@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=lambda p: p.name)
def test_selectors_and_targets_agree(folder: Path) -> None:
    docs = render(folder)
    deployment = one(docs, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert one(docs, "Service")["spec"]["selector"] == labels
    pdb = one(docs, "PodDisruptionBudget")["spec"]
    assert pdb["selector"]["matchLabels"] == labels
    hpa = one(docs, "HorizontalPodAutoscaler")["spec"]
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment["metadata"]["name"]}
    assert hpa["scaleTargetRef"] == target
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    assert hpa["minReplicas"] > pdb.get("maxUnavailable", 0)
    (metric,) = hpa["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert "cpu" in server_container(docs)["resources"]["requests"], "CPU utilisation is relative to the request"


def test_base_runs_the_image_placeholder_on_cpu() -> None:
    docs = render(BASE)
    container = server_container(docs)
    assert container["image"] == "embed-serving:latest"
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    assert [m["mountPath"] for m in container["volumeMounts"]] == ["/tmp"], "base serves the baked/embedded model"


def test_gpu_overlay_asks_for_one_gpu_on_gpu_nodes() -> None:
    docs = render(KUBE / "overlays" / "gpu")
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert server_container(docs)["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["nodeSelector"] and any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])
    assert server_container(docs)["image"] == "embed-serving:gpu"


def test_model_pvc_overlay_mounts_the_model_read_only() -> None:
    docs = render(KUBE / "overlays" / "model-pvc")
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    (mount,) = [m for m in server_container(docs)["volumeMounts"] if m["mountPath"] == str(SAGEMAKER_MODEL_DIR)]
    assert mount["readOnly"] is True
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    claim = one(docs, "PersistentVolumeClaim")
    assert volume["persistentVolumeClaim"] == {"claimName": claim["metadata"]["name"], "readOnly": True}
    assert {m["mountPath"] for m in server_container(docs)["volumeMounts"]} == {"/tmp", str(SAGEMAKER_MODEL_DIR)}


# --- the api-keys overlay ------------------------------------------------------------------------------------------

API_KEYS = KUBE / "overlays" / "api-keys"


def env_names_of(field: str) -> tuple[str, ...]:
    alias = Settings.model_fields[field].validation_alias
    assert isinstance(alias, AliasChoices)
    return tuple(str(name) for name in alias.choices)


def test_api_keys_overlay_reads_the_key_file_from_the_secret_volume() -> None:
    docs = render(API_KEYS)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    container = server_container(docs)
    env = {e["name"]: e["value"] for e in container["env"]}
    (name,) = [n for n in env_names_of("api_keys_file") if n in env]
    assert name == "EMB_API_KEYS_FILE"
    key_file = Path(env[name])
    (mount,) = [m for m in container["volumeMounts"] if key_file.is_relative_to(m["mountPath"])]
    # A subPath mount is never updated when the Secret changes: the directory is mounted, the file read inside it.
    assert "subPath" not in mount and "subPathExpr" not in mount
    assert mount["readOnly"] is True
    assert key_file.parent == Path(mount["mountPath"]) and key_file.name == "keys.json"
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    secret = volume["secret"]
    assert secret["secretName"] == "embed-serving-api-keys"
    assert not secret.get("optional", False), "without the Secret the pod must not start (the API would be open)"
    assert "items" not in secret or {"key": "keys.json", "path": "keys.json"} in secret["items"]
    # Secret files are root:root; the server reads them through its group 0 (no fsGroup), nobody else can.
    mode = secret["defaultMode"]
    assert mode == 0o440
    assert pod["securityContext"]["runAsGroup"] == 0 and "fsGroup" not in pod["securityContext"]
    assert mode & 0o040 and not mode & 0o007
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp", mount["mountPath"]}


def test_no_kustomization_holds_a_key() -> None:
    """The Secret is made by hand (README); nothing rendered from the repository carries a key."""
    for folder in KUSTOMIZATIONS:
        assert "secretGenerator" not in kustomization(folder)
        assert "Secret" not in {doc["kind"] for doc in render(folder)}
        for var in server_container(render(folder)).get("env", []):
            assert var["name"] not in env_names_of("api_key"), "EMB_API_KEY in plain text"
    assert "keys.json" in (API_KEYS / ".gitignore").read_text().split()


def test_api_keys_example_parses_with_the_servers_parser() -> None:
    example = API_KEYS / "keys.example.json"
    assert example.name not in kustomization(API_KEYS)["resources"]
    keys = {key.name: key for key in parse_key_file(example)}
    assert set(keys) == {"search-team", "batch"}
    assert (keys["search-team"].rpm, keys["search-team"].tpm) == (600, 1_000_000)
    assert (keys["batch"].rpm, keys["batch"].tpm) == (None, None), "the server's EMB_RATE_LIMIT_* defaults"
    # Placeholders only: a key anyone can read in the repository must be obviously not one to deploy.
    for entry in json.loads(example.read_text())["keys"]:
        assert entry.get("key", "replace-me-").startswith("replace-me-")
        assert set(entry.get("sha256", "0")) == {"0"}
