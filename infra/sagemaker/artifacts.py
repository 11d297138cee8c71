"""Model artifacts: pack a local model folder as model.tar.gz and put it in S3.

SageMaker extracts ModelDataUrl into /opt/ml/model, so the folder's files go at the archive root; packing is
``container/pack_model.py``'s job (also usable alone), so the archive is the same whichever way it is made.
Every kind of model is packed alike; ``model_kind`` says which one a folder or archive holds (``embedding``,
``rerank``, ``multivector`` or ``classify``), by the packer's rule, which is the server's (late-interaction modules
in ``modules.json``: multi-vector; ``architectures`` ending in ``ForSequenceClassification``: a reranker with one
label, a classifier with several).
"""

from __future__ import annotations

import importlib.util
import json
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

from botocore.exceptions import ClientError

from .config import DeployConfig
from .plan import Call

PACKER = Path(__file__).resolve().parents[2] / "container" / "pack_model.py"
# The files the kind is read from (container/pack_model.py's kind_of).
KIND_FILES = ("modules.json", "config_sentence_transformers.json", "config.json")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")  # = inference/runtime/worker_plan.WEIGHT_SUFFIXES


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
    """``source`` itself when it is a .tar.gz, else ``workdir/model.tar.gz`` packed by ``container/pack_model.py``.

    Raises ``ValueError`` when the folder is not a servable model (no config, no safetensors weights).
    """
    if source.is_file() and source.name.endswith((".tar.gz", ".tgz")):
        return source
    if not source.is_dir():
        raise FileNotFoundError(f"model source {source} is neither a folder nor a .tar.gz")
    packer, folder, target = _packer(), source.resolve(), workdir / "model.tar.gz"
    files = packer.model_files(folder)
    try:
        packer.check_model(folder, files, allow_no_safetensors=False)
    except SystemExit as err:  # the packer is also a script; its checks exit with the message
        raise ValueError(str(err)) from None
    packer.pack(folder, target, files, level=6)
    return target


def model_kind(source: Path) -> str:
    """``embedding``, ``rerank``, ``multivector`` or ``classify``: what the container serves from ``source`` (a
    model folder, or a .tar.gz with the model files at its root); the packer's rule, which is the server's."""
    packer = _packer()
    if source.is_dir():
        return str(packer.model_kind(source.resolve()))
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(source, "r|gz") as tar:  # one pass over the stream, whatever the archive's size
            for member in tar:
                name = member.name.removeprefix("./")
                if member.isfile() and name in KIND_FILES and (handle := tar.extractfile(member)) is not None:
                    found[name] = handle.read()
    except (OSError, tarfile.TarError):
        return "embedding"

    def read(name: str) -> Any:
        if name not in found:
            return None
        try:
            return json.loads(found[name])
        except (UnicodeDecodeError, ValueError) as err:
            raise ValueError(f"{source}: cannot read {name}: {err}") from err

    return str(packer.kind_of(read))


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
