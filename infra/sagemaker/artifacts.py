"""Model artifacts: pack a local model folder as model.tar.gz and put it in S3.

SageMaker extracts ModelDataUrl into /opt/ml/model, so the folder's files go at the archive root.
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

from .config import DeployConfig
from .plan import Call


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


def pack_model(source: Path, workdir: Path) -> Path:
    """``source`` itself when it is a .tar.gz, else a new ``workdir/model.tar.gz`` of the folder's contents."""
    if source.is_file() and source.name.endswith((".tar.gz", ".tgz")):
        return source
    if not source.is_dir():
        raise FileNotFoundError(f"model source {source} is neither a folder nor a .tar.gz")
    target = workdir / "model.tar.gz"

    def _clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(target, "w:gz") as archive:
        for path in sorted(source.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(source)), recursive=False, filter=_clean)
    return target


def upload(s3: Any, call: Call) -> None:
    """Run an ``upload_call`` (multipart for large files, via boto3's transfer manager)."""
    s3.upload_file(**call.params)
