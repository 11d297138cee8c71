#!/usr/bin/env python3
"""Pack a model folder into ``model.tar.gz`` the way SageMaker expects it.

SageMaker downloads ``ModelDataUrl`` and extracts it into ``/opt/ml/model``, so the model files must sit at the
archive root (``config.json``, not ``my-model/config.json``). The archive is normalised so that the
container's non-root user (uid 10001) can read it whatever the host's umask or owner was: owner 0:0,
files 0644, folders 0755, symlinks (Hugging Face cache snapshots) replaced by the files they point to, and
members sorted for a reproducible listing. Caches and VCS folders are left out.

A symlink must stay inside the model folder, or, for a Hugging Face cache snapshot
(``models--org--name/snapshots/<revision>``), point into that repository's ``blobs`` folder: a link elsewhere
(``tokenizer.json -> ~/.aws/credentials`` in a downloaded repository) would pack that file into an archive
bound for S3, so packing stops and names the link. ``--allow-links-outside`` packs such links anyway.

The same image serves embedding models and cross-encoder rerankers; the kind is read from the folder's
``config.json`` as the server reads it (``architectures`` ending in ``ForSequenceClassification``: a reranker,
served on ``/v1/rerank``, ``/rerank`` and ``/invocations``). A reranker must have one output label (the server
refuses others), which is checked here before anything is uploaded. ``--kind`` makes the packing fail unless
the folder is of that kind (a guard against packing the wrong folder).

    python3 container/pack_model.py MODEL_DIR [-o model.tar.gz] [--kind embedding|rerank] [--allow-links-outside]
    aws s3 cp model.tar.gz s3://BUCKET/PREFIX/model.tar.gz

Standard library only (runs with any Python 3.9+).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import tarfile
from pathlib import Path

MODEL_MARKERS = ("config.json", "modules.json")
EXCLUDE_DIRS = {".git", ".cache", "__pycache__", ".ipynb_checkpoints", ".huggingface"}
EXCLUDE_FILES = ("*.pyc", "*.lock", ".DS_Store", "*.incomplete")
KINDS = ("embedding", "rerank")
USAGE = {
    "embedding": 'POST /invocations or /v1/embeddings {"input": [...]}',
    "rerank": 'POST /invocations or /v1/rerank {"query": ..., "documents": [...]}',
}


def _config(folder: Path) -> dict:
    """The folder's top-level config.json (empty when absent or not a JSON object)."""
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def model_kind(folder: Path) -> str:
    """``rerank`` for a cross-encoder (config.json ``architectures`` ending in ``ForSequenceClassification``, the
    server's rule in ``inference.handlers.model_family``), else ``embedding``."""
    architectures = _config(folder).get("architectures") or ()
    return "rerank" if any(str(name).endswith("ForSequenceClassification") for name in architectures) else "embedding"


def reranker_labels(folder: Path) -> int:
    """Output labels of a sequence-classification config (``id2label``'s size, else ``num_labels``, else 1)."""
    config = _config(folder)
    if isinstance(config.get("id2label"), dict):
        return len(config["id2label"])
    return int(config.get("num_labels", 1))


def model_files(folder: Path) -> list[Path]:
    """Regular files under ``folder`` (symlinks followed), minus caches and VCS data, sorted."""
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part in EXCLUDE_DIRS for part in rel.parts[:-1]):
            continue
        if any(fnmatch.fnmatch(path.name, pattern) for pattern in EXCLUDE_FILES):
            continue
        if path.is_file():  # follows symlinks; dangling links and folders are skipped
            files.append(path)
    return files


def link_roots(folder: Path) -> list[Path]:
    """Where the files under ``folder`` (resolved) may really live: inside it, and for a Hugging Face cache
    snapshot (``.../snapshots/<revision>``) the repository's ``blobs`` folder beside ``snapshots``."""
    roots = [folder]
    if folder.parent.name == "snapshots":
        roots.append(folder.parent.parent / "blobs")
    return [root.resolve() for root in roots]


def check_links(folder: Path, files: list[Path]) -> None:
    """``SystemExit`` naming the first file that is (or lies under) a symlink leading out of ``link_roots``."""
    roots = link_roots(folder)
    for path in files:
        target = path.resolve()
        if not any(target == root or root in target.parents for root in roots):
            raise SystemExit(f"{folder}: {path.relative_to(folder).as_posix()} is a symlink to {target}, outside "
                             "the model folder; copy the file in, or pass --allow-links-outside to pack it anyway")


def check_model(folder: Path, files: list[Path], allow_no_safetensors: bool) -> None:
    names = {f.relative_to(folder).as_posix() for f in files}
    if not any(marker in names for marker in MODEL_MARKERS):
        raise SystemExit(f"{folder}: no config.json or modules.json at the top level; is this a model folder?")
    if not allow_no_safetensors and not any(name.endswith(".safetensors") for name in names):
        raise SystemExit(f"{folder}: no *.safetensors weights (the server loads safetensors only); "
                         "convert the weights or pass --allow-no-safetensors")
    if model_kind(folder) == "rerank" and (labels := reranker_labels(folder)) != 1:
        raise SystemExit(f"{folder}: a *ForSequenceClassification model with {labels} labels; the server serves "
                         "cross-encoder rerankers with one output label only")


def check_kind(folder: Path, expected: str | None) -> str:
    """The folder's kind; ``SystemExit`` when ``expected`` is given and differs."""
    kind = model_kind(folder)
    if expected is not None and kind != expected:
        raise SystemExit(f"{folder}: a {kind} model, not {expected} (config.json architectures: "
                         f"{_config(folder).get('architectures')})")
    return kind


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o755 if info.isdir() else 0o644
    return info


def pack(folder: Path, output: Path, files: list[Path], level: int) -> None:
    dirs = sorted({parent for f in files for parent in f.relative_to(folder).parents if parent != Path(".")})
    tmp = output.with_name(output.name + ".part")
    with tarfile.open(tmp, "w:gz", compresslevel=level, dereference=True) as tar:
        for rel in dirs:
            tar.add(folder / rel, arcname=rel.as_posix(), recursive=False, filter=_normalise)
        for path in files:
            tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False, filter=_normalise)
    tmp.replace(output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path, help="folder with config.json or modules.json and *.safetensors")
    parser.add_argument("-o", "--output", type=Path, default=Path("model.tar.gz"), help="default: ./model.tar.gz")
    parser.add_argument("--level", type=int, default=6, choices=range(1, 10), help="gzip level (default 6)")
    parser.add_argument("--allow-no-safetensors", action="store_true", help="pack even without *.safetensors")
    parser.add_argument("--kind", choices=KINDS, help="fail unless the folder is this kind (default: any)")
    parser.add_argument("--allow-links-outside", action="store_true",
                        help="pack symlinks that lead out of the model folder (default: refuse them)")
    args = parser.parse_args(argv)

    folder = args.model_dir.resolve()
    if not folder.is_dir():
        raise SystemExit(f"{args.model_dir}: not a folder")
    files = model_files(folder)
    if not args.allow_links_outside:
        check_links(folder, files)
    check_model(folder, files, args.allow_no_safetensors)
    kind = check_kind(folder, args.kind)
    if args.output.resolve().is_relative_to(folder):
        raise SystemExit("the output must not be inside the model folder")
    pack(folder, args.output, files, args.level)
    size_mb = args.output.stat().st_size / 1e6
    print(f"{args.output}: {len(files)} files at the archive root, {size_mb:.1f} MB; {kind} model: {USAGE[kind]}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
