"""Several models behind one server: which models a model folder holds, by name. No torch, no model loading.

A model root (``MODEL_DIR``, else ``/opt/ml/model`` where SageMaker extracted ``model.tar.gz``) that is itself a
model folder (``config.json`` or ``modules.json`` at its top) serves that one model, as always. A root that is not
serves a set:

- with ``models.json`` (the manifest), the models it lists, in its order: ``{"models": [{"name": "embedder",
  "path": "minilm"}, {"name": "reranker", "path": "bge-reranker", "handler": "rerank"}]}``; ``path`` is relative
  to the root, ``handler`` (optional) is an ``EMB_HANDLER`` value for that model alone;
- else every subfolder that is a model folder, by folder name, each named after its folder.

The first model of each kind is that kind's default (the one a request without ``model`` gets).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import HostUnfitError
from .model_dir import MANIFEST, MODEL_MARKERS, SAGEMAKER_MODEL_DIR
from .settings import HandlerName, Settings

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


class ModelSetError(HostUnfitError):
    """The model root's set cannot be served (a bad manifest): said to whoever deploys the server."""


@dataclass(frozen=True, slots=True)
class ServedModel:
    name: str
    folder: Path
    handler: HandlerName | None = None


def weight_bytes(model_dir: Path | None) -> int:
    """Bytes of weight files under a model folder (0 when unknown)."""
    if model_dir is None or not model_dir.is_dir():
        return 0
    return sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][\w.:/-]*$")
    path: str = Field(min_length=1)
    handler: HandlerName | None = None


class _Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: list[_Entry] = Field(min_length=1)


def is_model_folder(path: Path) -> bool:
    return path.is_dir() and any((path / marker).is_file() for marker in MODEL_MARKERS)


def model_root(settings: Settings) -> Path | None:
    """The folder that may hold a set: ``MODEL_DIR``, else a non-empty ``/opt/ml/model`` (no other source)."""
    if settings.model_dir is not None:
        return settings.model_dir
    if settings.storage_uri or settings.azureml_model_dir is not None:
        return None
    return SAGEMAKER_MODEL_DIR if SAGEMAKER_MODEL_DIR.is_dir() else None


def served_models(settings: Settings) -> list[ServedModel]:
    """The models of the set under the model root; ``[]`` when the root is one model folder, or there is none (the
    single-model server). ``ModelSetError`` naming the problem for a bad manifest."""
    root = model_root(settings)
    if root is None or not root.is_dir() or is_model_folder(root):
        return []
    manifest = root / MANIFEST
    if manifest.is_file():
        return _from_manifest(root, manifest)
    found = [ServedModel(path.name, path) for path in sorted(root.iterdir()) if is_model_folder(path)]
    return found if len(found) > 1 else []


def _from_manifest(root: Path, manifest: Path) -> list[ServedModel]:
    try:
        parsed = _Manifest.model_validate(json.loads(manifest.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as err:
        raise ModelSetError(f"{manifest} is not a valid model manifest: {err}") from None
    names = [entry.name for entry in parsed.models]
    if len(set(names)) != len(names):
        raise ModelSetError(f"{manifest}: model names must be unique, got {names}")
    models = []
    for entry in parsed.models:
        inside = not Path(entry.path).is_absolute() and not os.path.normpath(entry.path).startswith("..")
        folder = root / os.path.normpath(entry.path)
        if not inside or not is_model_folder(folder):
            raise ModelSetError(f"{manifest}: model {entry.name!r} path {entry.path!r} is not a model folder under "
                             f"{root} (no config.json or modules.json)")  # fmt: skip
        models.append(ServedModel(entry.name, folder, entry.handler))
    return models


def model_settings(settings: Settings, model: ServedModel) -> Settings:
    """The settings one model of the set is loaded and served with: its folder, its name, its handler."""
    handler = model.handler or ("fake" if settings.handler == "fake" else "auto")  # EMB_HANDLER: the set's models'
    return settings.with_overrides(model_dir=model.folder, served_model_name=model.name, handler=handler)
