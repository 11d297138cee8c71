"""A local model set's root (several model folders, or a models.json manifest) as ``model_path``: registered as one
folder, with ``MODEL_DIR`` naming its mount (Azure ML mounts it under AZUREML_MODEL_DIR, where the server would look
for one model folder); a set the server would refuse is refused before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("azure.ai.ml", reason="azure-ai-ml is not installed (pip install -e .[infra])")

from test_azureml_config import make  # noqa: E402

from infra.azureml.plan import build_plan, container_env, rest_bodies  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:The `context` parameter is deprecated")


def _model(folder: Path, config: dict[str, object]) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").write_bytes(b"\0" * 8)
    return folder


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    root = tmp_path / "stack"
    _model(root / "embedder", {"model_type": "bert"})
    _model(root / "reranker", {"architectures": ["BertForSequenceClassification"]})
    return root


def test_a_set_folder_is_registered_and_served_as_a_set(stack: Path) -> None:
    cfg = make(model_path=str(stack), model_name="stack", model_version="3", env={"EMB_LOG_LEVEL": "INFO"})
    mount = "/var/azureml-app/azureml-models/stack/3/stack"
    assert container_env(cfg) == {"MODEL_DIR": mount, "EMB_LOG_LEVEL": "INFO"}
    plan = build_plan(cfg)
    assert plan.model is not None and Path(str(plan.model.path)) == stack  # the whole root, one model asset
    deployment = rest_bodies(plan, "westeurope")["deployment"]
    assert deployment["properties"]["environmentVariables"]["MODEL_DIR"] == mount


def test_a_model_folder_and_a_remote_path_get_no_model_dir(stack: Path) -> None:
    assert "MODEL_DIR" not in container_env(make(model_path=str(stack / "embedder")))
    assert "MODEL_DIR" not in container_env(make(model_path="azureml://datastores/ds/paths/stack"))
    own = make(model_path=str(stack), env={"MODEL_DIR": "/elsewhere"})
    assert container_env(own)["MODEL_DIR"] == "/elsewhere"  # the config's own wins


def test_a_set_the_server_would_refuse_is_refused(stack: Path) -> None:
    (stack / "models.json").write_text(json.dumps({"models": [{"name": "a", "path": "missing"}]}))
    with pytest.raises(ValueError, match="'a' path 'missing' is not a model folder"):
        build_plan(make(model_path=str(stack)))
