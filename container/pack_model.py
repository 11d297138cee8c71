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

The same image serves four kinds of model, and the kind is read from the folder as the server reads it
(``inference.handlers.model_family``):

* ``multivector``: a late-interaction (ColBERT-style) folder, ``modules.json`` with a module type starting
  ``pylate.`` or ending ``.MultiVectorMask`` (or any modules with ``model_type`` ``ColBERT`` / ``MultiVectorEncoder``
  in ``config_sentence_transformers.json``); served on ``/v1/multi-vector``, ``/v1/rerank`` and ``/invocations``;
* ``rerank``: ``config.json`` ``architectures`` ending in ``ForSequenceClassification`` with one label (a
  cross-encoder), served on ``/v1/rerank``, ``/rerank`` and ``/invocations``;
* ``classify``: the same with several labels (``id2label``'s size, else ``num_labels``), served on ``/v1/classify``,
  ``/predict``, ``/classify`` and ``/invocations``;
* ``embedding``: anything else, served on ``/v1/embeddings`` and ``/invocations``.

The packer prints the kind and what the container answers with it. ``--kind`` makes the packing fail unless the
folder is of that kind (a guard against packing the wrong folder).

    python3 container/pack_model.py MODEL_DIR [-o model.tar.gz] [--kind embedding|rerank|multivector|classify]
                                    [--allow-links-outside]
    aws s3 cp model.tar.gz s3://BUCKET/PREFIX/model.tar.gz

Standard library only (runs with any Python 3.9+).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

MODEL_MARKERS = ("config.json", "modules.json")
EXCLUDE_DIRS = {".git", ".cache", "__pycache__", ".ipynb_checkpoints", ".huggingface"}
EXCLUDE_FILES = ("*.pyc", "*.lock", ".DS_Store", "*.incomplete")
KINDS = ("embedding", "rerank", "multivector", "classify", "sparse")
USAGE = {
    "embedding": 'POST /invocations or /v1/embeddings {"input": [...]}',
    "rerank": 'POST /invocations or /v1/rerank {"query": ..., "documents": [...]}',
    "multivector": 'POST /invocations or /v1/multi-vector {"input": [...], "input_type": "query"|"document"} (token '
    'vectors); POST /invocations or /v1/rerank {"query": ..., "documents": [...]} (MaxSim)',
    "classify": 'POST /invocations or /v1/classify {"input": [...]} (or /predict {"inputs": ...})',
    "sparse": 'POST /invocations or /embed_sparse {"inputs": [...]} (sparse vectors)',
}

SHOWN_LABELS = 8  # a classifier's labels named in the report; the rest are counted

Read = Callable[[str], Any]  # a JSON file of the model by name -> its value (None: absent; ValueError: unreadable)


def _read_json(folder: Path) -> Read:
    def read(name: str) -> Any:
        path = folder / name
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"cannot read {path}: {err}") from err

    return read


def _object(read: Read, name: str) -> dict[str, Any]:
    """``name`` as a JSON object (empty when absent, unreadable or not an object)."""
    try:
        data = read(name)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _config(folder: Path) -> dict[str, Any]:
    """The folder's top-level config.json (empty when absent or not a JSON object)."""
    return _object(_read_json(folder), "config.json")


def is_late_interaction(read: Read) -> bool:
    """A PyLate or Sentence Transformers multi-vector save: the server's rule
    (``inference.handlers.colbert_folder.is_late_interaction``)."""
    try:
        entries = read("modules.json") or []
        settings = read("config_sentence_transformers.json")
    except ValueError:
        return False
    model_type = settings.get("model_type") if isinstance(settings, dict) else None
    entries = entries if isinstance(entries, list) else []
    types = [str(entry.get("type", "")) for entry in entries if isinstance(entry, dict)]
    marked = any(kind.startswith("pylate.") or kind.endswith(".MultiVectorMask") for kind in types)
    return marked or (bool(types) and model_type in ("ColBERT", "MultiVectorEncoder"))


def is_sparse(read: Read) -> bool:
    """A sentence-transformers SparseEncoder save: the server's rule (``inference.handlers.splade_folder``)."""
    try:
        entries = read("modules.json") or []
        settings = read("config_sentence_transformers.json")
    except ValueError:
        return False
    entries = entries if isinstance(entries, list) else []
    types = [str(entry.get("type", "")).rsplit(".", 1)[-1] for entry in entries if isinstance(entry, dict)]
    model_type = settings.get("model_type") if isinstance(settings, dict) else None
    return "SpladePooling" in types or (bool(types) and model_type == "SparseEncoder")


def label_count(config: dict[str, Any]) -> int:
    """Outputs of a sequence-classification head: ``id2label``'s size, else ``num_labels``, else 1 (the server's
    rule: a cross-encoder saved with neither is a reranker)."""
    labels = config.get("id2label")
    if isinstance(labels, dict) and labels:
        return len(labels)
    number = config.get("num_labels")
    return number if isinstance(number, int) and number > 0 else 1


def _card_pipeline(folder: Path) -> str | None:
    """The model card's ``pipeline_tag`` (README.md front matter), if it has one."""
    card = folder / "README.md"
    head = card.read_text(encoding="utf-8", errors="replace")[:16384] if card.is_file() else ""
    end = head.find("\n---", 3) if head.startswith("---") else -1
    tag = re.search(r"^pipeline_tag:\s*['\"]?([\w-]+)", head[3:end], re.MULTILINE) if end > 0 else None
    return tag.group(1) if tag else None


def kind_of(read: Read, pipeline: str | None = None) -> str:
    """The kind of the model whose JSON files ``read`` returns (a folder's, or an archive's); ``pipeline``: its
    model card's ``pipeline_tag``, where known."""
    if is_late_interaction(read):
        return "multivector"
    if is_sparse(read):
        return "sparse"
    config = _object(read, "config.json")
    architectures = [str(name) for name in config.get("architectures") or ()]
    if any(name.endswith("ForSequenceClassification") for name in architectures):
        return "classify" if label_count(config) > 1 else "rerank"
    if "JinaForRanking" in architectures:  # jina-reranker-v3 (the server's listwise-rerank)
        return "rerank"
    if any(name.endswith("ForCausalLM") for name in architectures):  # a decoder reranker (the server's llm-rerank)
        if pipeline == "text-classification":  # bge-reranker-v2-gemma's card; a model_type with a template
            return "rerank" if config.get("model_type") in ("qwen3", "gemma", "gemma2") else "embedding"
        if pipeline is not None:
            return "rerank" if pipeline == "text-ranking" else "embedding"
        try:
            modules = read("modules.json")
        except ValueError:
            modules = None
        return "rerank" if config.get("model_type") == "qwen3" and modules is None else "embedding"
    return "embedding"


def model_kind(folder: Path) -> str:
    """``multivector``, ``rerank``, ``classify`` or ``embedding``: what the server serves from ``folder``."""
    return kind_of(_read_json(folder), _card_pipeline(folder))


def describe(folder: Path, kind: str) -> str:
    """The kind as the packer reports it (a classifier with its labels)."""
    if kind != "classify":
        return f"{kind} model"
    config = _config(folder)
    labels = config.get("id2label")
    if not isinstance(labels, dict) or not labels:
        return f"classify model ({label_count(config)} labels)"
    order = sorted(labels, key=int) if all(str(key).isdigit() for key in labels) else list(labels)
    names = [str(labels[key]) for key in order]
    shown = ", ".join(names[:SHOWN_LABELS]) + (", ..." if len(names) > SHOWN_LABELS else "")
    return f"classify model ({len(labels)} labels: {shown})"


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


def check_kind(folder: Path, expected: str | None) -> str:
    """The folder's kind; ``SystemExit`` when ``expected`` is given and differs."""
    kind = model_kind(folder)
    if expected is not None and kind != expected:
        raise SystemExit(f"{folder}: a {kind} model, not {expected} ({_evidence(folder, kind)})")
    return kind


def _evidence(folder: Path, kind: str) -> str:
    """What the kind was read from, for the ``--kind`` refusal."""
    if kind == "multivector":
        return "modules.json: a late-interaction (multi-vector) model"
    config = _config(folder)
    shown = f"config.json architectures: {config.get('architectures')}"
    return shown + (f", {label_count(config)} labels" if kind in ("rerank", "classify") else "")


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
    print(f"{args.output}: {len(files)} files at the archive root, {size_mb:.1f} MB; {describe(folder, kind)}: "
          f"{USAGE[kind]}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
