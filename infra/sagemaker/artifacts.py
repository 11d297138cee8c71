"""Model artifacts: pack a local model folder as model.tar.gz and put it in S3.

SageMaker extracts ModelDataUrl into /opt/ml/model, so the folder's files go at the archive root; packing is
``container/pack_model.py``'s job (also usable alone), so the archive is the same whichever way it is made.
Every kind of model is packed alike; ``model_kind`` says which one a folder or archive holds (``embedding``,
``rerank``, ``multivector``, ``classify`` or ``sparse``), by the packer's rule, which is the server's (late-interaction
modules in ``modules.json``: multi-vector; ``architectures`` ending in ``ForSequenceClassification``: a reranker with
one label, a classifier with several). A model set's root (several model folders, or a ``models.json`` manifest:
docs/models/model-sets.md) packs into one archive the same way; ``models`` lists what a folder or archive holds.
"""

from __future__ import annotations

import importlib.util
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

from botocore.exceptions import ClientError

from .config import DeployConfig
from .plan import Call

PACKER = Path(__file__).resolve().parents[2] / "container" / "pack_model.py"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")  # = inference/model_set.WEIGHT_SUFFIXES


def parse_s3(url: str) -> tuple[str, str]:
    """``s3://bucket/key/path`` -> ``("bucket", "key/path")``."""
    if not url.startswith("s3://"):
        raise ValueError(f"not an s3:// URL: {url}")
    bucket, _, key = url[len("s3://") :].partition("/")
    return bucket, key


def model_data_url(cfg: DeployConfig, version: str) -> str | None:
    """Where the model lives in S3 for this deployment (None: the image serves its embedded model)."""
    if cfg.model_data:
        return cfg.model_data
    if cfg.model_source and cfg.upload_s3:
        return f"{cfg.upload_s3.rstrip('/')}/{cfg.endpoint_name}/{version}/model.tar.gz"
    return None


def upload_call(cfg: DeployConfig, version: str, filename: Path) -> Call | None:
    """The S3 upload of ``filename`` to ``model_data_url`` (None when nothing is uploaded)."""
    url = model_data_url(cfg, version)
    if cfg.model_source is None or url is None:
        return None
    bucket, key = parse_s3(url)
    return Call("s3", "upload_file", {"Filename": str(filename), "Bucket": bucket, "Key": key})


def _packer() -> ModuleType:
    """``container/pack_model.py``: the one packer of model.tar.gz (owner 0:0, 0644/0755, symlinks resolved,
    caches left out, safetensors required), loaded from the checkout."""
    spec = importlib.util.spec_from_file_location("pack_model", PACKER)
    if spec is None or spec.loader is None or not PACKER.is_file():
        raise FileNotFoundError(f"{PACKER} not found; pack the model with it and pass model_data instead")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pack_model(source: Path, workdir: Path) -> Path:
    """``source`` itself when it is a .tar.gz, else ``workdir/model.tar.gz`` packed by ``container/pack_model.py``:
    a model folder's files at the archive root, or a model set's root (a ``models.json`` manifest, or several model
    folders) with each model under its folder and the manifest beside them.

    Raises ``ValueError`` when a folder is not a servable model (no config, no safetensors weights) or set (a
    manifest the server would refuse).
    """
    if source.is_file() and source.name.endswith((".tar.gz", ".tgz")):
        return source
    if not source.is_dir():
        raise FileNotFoundError(f"model source {source} is neither a folder nor a .tar.gz")
    packer, target = _packer(), workdir / "model.tar.gz"
    try:  # links out of the folder are packed as before (the packer's script refuses them unless told)
        members, _ = packer.collect(source, allow_no_safetensors=False, allow_links_outside=True)
    except SystemExit as err:  # the packer is also a script; its checks exit with the message
        raise ValueError(str(err)) from None
    packer.write(target, members, level=6)
    return target


def models(source: Path) -> list[Any]:
    """The models ``source`` (a model folder, a set's root, or a .tar.gz) holds, as ``container/pack_model.py``
    reports them (``Packed``: ``name``, ``path``, ``kind``, ``files``, ``size``); one unnamed model for a model
    folder or a single-model archive. ``ValueError`` when it holds none, or a set the server would refuse."""
    packer = _packer()
    try:
        if source.is_dir():
            return list(packer.collect(source, allow_no_safetensors=True, allow_links_outside=True)[1])
        return list(packer.read_archive(source))
    except SystemExit as err:
        raise ValueError(str(err)) from None


def describe(source: Path) -> str:
    """``rerank model``, or ``set of 2 models: embedder (embedding), reranker (rerank)``: for progress lines."""
    found = models(source)
    if len(found) == 1 and found[0].name is None:
        return f"{found[0].kind} model"
    return f"set of {len(found)} models: " + ", ".join(f"{model.name} ({model.kind})" for model in found)


def model_kind(source: Path) -> str:
    """``embedding``, ``rerank``, ``multivector``, ``classify`` or ``sparse``: what the container serves from
    ``source`` (a model folder, or a .tar.gz with the model files at its root); the packer's rule, which is the
    server's. For a set: its first model's kind (what ``/invocations`` answers without a model name or a query);
    ``embedding`` for a source that cannot be read."""
    try:
        return str(models(source)[0].kind)
    except (OSError, ValueError):
        return "embedding"


def upload(s3: Any, call: Call) -> None:
    """Run an ``upload_call`` (multipart for large files, via boto3's transfer manager)."""
    s3.upload_file(**call.params)


def weight_bytes(source: Path) -> int:
    """Bytes of weight files in a model folder or .tar.gz (the files the server's memory estimate counts)."""
    if source.is_dir():
        return sum(p.stat().st_size for p in source.rglob("*") if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
    if not source.is_file():
        raise FileNotFoundError(f"model source {source} is neither a folder nor a .tar.gz")
    try:
        with tarfile.open(source, "r:*") as tar:
            return sum(m.size for m in tar.getmembers() if m.isfile() and m.name.endswith(WEIGHT_SUFFIXES))
    except (OSError, tarfile.TarError) as err:
        raise ValueError(f"cannot read {source} as a model archive: {err}") from None


def s3_size(s3: Any, url: str) -> int | None:
    """Size in bytes of the S3 object at ``url`` (None when it cannot be read: missing, or no permission)."""
    bucket, key = parse_s3(url)
    try:
        return int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except ClientError:
        return None
