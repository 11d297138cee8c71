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

A model set (several models behind one server, docs/models/model-sets.md) packs the same way: a root that is not
a model folder but holds a ``models.json`` manifest, or several model subfolders, becomes one archive holding the
manifest and every model folder it names (or every model subfolder), each under its own folder, each checked as a
single model is (markers, safetensors, links) and reported with its name, kind and size. The set is read by the
server's own rule (``inference.model_set.served_models``): a manifest the server would refuse is refused here.
``--kind`` with a set requires every model to be of that kind.

An existing archive (``MODEL_DIR`` ending in ``.tar.gz``) is read, not packed: the tool prints what it holds, its
model or its set, with the same report.

    python3 container/pack_model.py MODEL_DIR [-o model.tar.gz] [--kind embedding|rerank|multivector|classify]
                                    [--allow-links-outside]
    python3 container/pack_model.py model.tar.gz          # what an archive holds
    aws s3 cp model.tar.gz s3://BUCKET/PREFIX/model.tar.gz

Standard library only (runs with any Python 3.9+) for one model folder; a set is read with the project's
``inference.model_set``, so pack a set with the project's Python (its virtual environment).
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib
import json
import re
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any, NamedTuple

MODEL_MARKERS = ("config.json", "modules.json")
EXCLUDE_DIRS = {".git", ".cache", "__pycache__", ".ipynb_checkpoints", ".huggingface"}
EXCLUDE_FILES = ("*.pyc", "*.lock", ".DS_Store", "*.incomplete")
ONNX_PACKAGE_DIR = "embed-serving-onnx"  # inference.handlers.onnx_package.PACKAGE_DIR (this file imports no project)
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


# --- model sets: several model folders (and their manifest) in one archive ------------------------------------------
MANIFEST = "models.json"  # inference.model_set.MANIFEST
REPO = Path(__file__).resolve().parents[1]
# A manifest's ``handler`` (EMB_HANDLER) as the kind it serves; ``auto`` and ``fake``: the folder's own kind.
HANDLER_KINDS = {"text": "embedding", "clip": "embedding", "rerank": "rerank", "llm-rerank": "rerank",
                 "classify": "classify", "multivector": "multivector", "sparse": "sparse"}  # fmt: skip
# The files of an archive its models are described from (kind_of's JSON files, the model card, the manifest).
DESCRIBING_FILES = frozenset({*MODEL_MARKERS, "config_sentence_transformers.json", "README.md", MANIFEST})
CARD_BYTES = 16384  # the head of a model card that _card_pipeline reads
LARGEST_JSON = 16 * 1024 * 1024  # a describing file larger than this is not read from an archive
Member = tuple[Path, str]  # a file or folder on disk, and its name in the archive


class Packed(NamedTuple):  # not a dataclass: the tools load this file without registering it as a module
    """One model of an archive: ``name`` (the one a request picks it by; None for the one model of a single-model
    archive), ``path`` (its folder in the archive; "" for the archive root), its kind, the kind as reported, and
    its files and their bytes (uncompressed)."""

    name: str | None
    path: str
    kind: str
    label: str
    files: int
    size: int


def is_model_folder(path: Path) -> bool:
    """``config.json`` or ``modules.json`` at its top: the server's rule (``inference.model_set.is_model_folder``)."""
    return path.is_dir() and any((path / marker).is_file() for marker in MODEL_MARKERS)


def _model_set() -> ModuleType:
    """``inference.model_set``, the server's reader of a set (imported from this checkout if not installed)."""
    try:
        return importlib.import_module("inference.model_set")
    except ImportError:
        if str(REPO) not in sys.path:
            sys.path.insert(0, str(REPO))
        try:
            return importlib.import_module("inference.model_set")
        except ImportError as err:
            raise SystemExit(f"a model set is read with the project's inference.model_set, which cannot be imported "
                             f"({err}); pack a set with the project's Python (.venv/bin/python)") from None


def set_models(root: Path) -> list[tuple[str, Path, str | None]]:
    """The models of the set at ``root`` as the server reads it (``inference.model_set.served_models``): name,
    folder, the manifest's handler. ``[]`` when ``root`` is one model folder or holds no set (read without importing
    the project); ``SystemExit`` naming the problem for a manifest the server would refuse."""
    if is_model_folder(root) or not root.is_dir():
        return []
    if not (root / MANIFEST).is_file() and not any(is_model_folder(child) for child in root.iterdir()):
        return []
    model_set = _model_set()
    settings = importlib.import_module("inference.settings").Settings.model_construct(model_dir=root)  # no env read
    refused = (ValueError, getattr(model_set, "ModelSetError", ValueError))
    try:
        models = model_set.served_models(settings)
    except refused as err:
        raise SystemExit(f"not a servable model set: {err}") from None
    return [(model.name, Path(model.folder), model.handler) for model in models]


def served_kind(folder: Path, handler: str | None) -> str:
    """The kind the server serves ``folder`` as: the manifest's handler's, else the folder's own."""
    return HANDLER_KINDS.get(handler or "") or model_kind(folder)


def _tree(folder: Path, prefix: str, files: list[Path]) -> list[Member]:
    """The folders, then the files, of one model, named under ``prefix`` ("": the archive root)."""

    def name(rel: Path) -> str:
        return f"{prefix}/{rel.as_posix()}" if prefix else rel.as_posix()

    dirs = sorted({parent for f in files for parent in f.relative_to(folder).parents if parent != Path(".")})
    return [(folder / rel, name(rel)) for rel in dirs] + [(f, name(f.relative_to(folder))) for f in files]


def _size(files: list[Path]) -> int:
    return sum(path.stat().st_size for path in files)


def collect(source: Path, allow_no_safetensors: bool = False, allow_links_outside: bool = False,
            expected: str | None = None) -> tuple[list[Member], list[Packed]]:  # fmt: skip
    """What packing ``source`` (a model folder, or a set's root) writes: every folder and file with its name in the
    archive, in order, and the models it holds. Each model is checked as a single one is (markers, safetensors,
    links, ``expected`` kind); ``SystemExit`` names the first problem."""
    root = source.resolve()
    if not root.is_dir():
        raise SystemExit(f"{source}: not a folder")
    models = set_models(root)
    if not models:
        inner = [child.name for child in sorted(root.iterdir()) if is_model_folder(child)]
        if inner and not is_model_folder(root):
            raise SystemExit(f"{root}: no config.json or modules.json at the top level, and one model folder under "
                             f"it ({inner[0]}): pack that folder, or write a {MANIFEST} naming it to pack a set")
        files = model_files(root)
        if not allow_links_outside:
            check_links(root, files)
        check_model(root, files, allow_no_safetensors)
        kind = check_kind(root, expected)
        return _tree(root, "", files), [Packed(None, "", kind, describe(root, kind), len(files), _size(files))]
    members: dict[str, Path] = {}
    packed = []
    for name, folder, handler in models:
        prefix = folder.relative_to(root).as_posix()
        real = folder.resolve()  # a linked model folder (a Hugging Face snapshot) is packed as the files it holds
        files = model_files(real)
        if not allow_links_outside:
            check_links(real, files)
        check_model(real, files, allow_no_safetensors)
        kind = served_kind(real, handler)
        if expected is not None and kind != expected:
            raise SystemExit(f"{folder}: model {name!r} is a {kind} model, not {expected} (--kind with a set requires "
                             "every model to be of that kind)")
        for parent in list(Path(prefix).parents)[:-1]:  # the set's folders above the model's ("group" of "group/a")
            members.setdefault(parent.as_posix(), root / parent)
        members.setdefault(prefix, real)
        for path, arcname in _tree(real, prefix, files):
            members.setdefault(arcname, path)
        packed.append(Packed(name, prefix, kind, describe(real, kind), len(files), _size(files)))
    if (root / MANIFEST).is_file():
        members[MANIFEST] = root / MANIFEST
    return [(members[arcname], arcname) for arcname in sorted(members)], packed


def write(output: Path, members: list[Member], level: int) -> None:
    """``members`` into ``output`` (gzip ``level``), normalised; written beside it first, then moved in place."""
    tmp = output.with_name(output.name + ".part")
    with tarfile.open(tmp, "w:gz", compresslevel=level, dereference=True) as tar:
        for path, arcname in members:
            tar.add(path, arcname=arcname, recursive=False, filter=_normalise)
    tmp.replace(output)


def pack(folder: Path, output: Path, files: list[Path], level: int) -> None:
    """One model folder's ``files`` at the archive root."""
    write(output, _tree(folder, "", files), level)


def pack_root(source: Path, output: Path, level: int = 6, allow_no_safetensors: bool = False,
              allow_links_outside: bool = False, expected: str | None = None, onnx: str = "no"
              ) -> list[Packed]:  # fmt: skip
    """Pack a model folder or a set's root into ``output``; the models packed. ``onnx``: add each embedding model's
    ONNX package (``onnx_members``)."""
    members, packed = collect(source, allow_no_safetensors, allow_links_outside, expected)
    out = output.resolve()
    roots = {source.resolve(), *(path.resolve() for path, name in members if "/" not in name)}
    if any(out == root or root in out.parents for root in roots if root.is_dir()):
        raise SystemExit("the output must not be inside the model folder")
    with tempfile.TemporaryDirectory(prefix="pack-onnx-") as work:
        extra = onnx_members(packed, members, source, Path(work), onnx)
        fresh = [name for path, name in extra if name.endswith(ONNX_PACKAGE_DIR)]  # stale packages give way
        kept = [m for m in members if not any(m[1] == name or m[1].startswith(name + "/") for name in fresh)]
        write(output, sorted({name: (path, name) for path, name in kept + extra}.values(), key=lambda m: m[1]), level)
    return packed


def _onnx_tools() -> tuple[Any, Any, Any, Any] | None:
    """The project's ONNX packaging (``inference.handlers``), or None where this Python lacks it (or torch)."""
    try:
        st = importlib.import_module("inference.handlers.st_config")
        package = importlib.import_module("inference.handlers.onnx_package")
        pack = importlib.import_module("inference.handlers.onnx_pack")
        settings = importlib.import_module("inference.settings")
        importlib.import_module("torch")
    except ImportError:
        return None
    return st, package, pack, settings


def onnx_members(packed: list[Packed], members: list[Member], source: Path, work: Path, mode: str) -> list[Member]:
    """Each embedding model's ONNX package (docs/performance/cpu.md#cpu-backends), exported into ``work`` unless
    the folder holds an up-to-date one, as members under ``<model>/<transformer folder>/embed-serving-onnx/``: CPU
    workers then serve the model without importing torch from their first start. ``mode``: ``auto`` (when this
    Python has the project and torch), ``yes`` (fail without them), ``no``."""
    if mode == "no" or not any(model.kind == "embedding" for model in packed):
        return []
    tools = _onnx_tools()
    if tools is None:
        if mode == "yes":
            raise SystemExit("--onnx yes needs the project's Python (its virtual environment, with torch)")
        print("ONNX package: not exported (this Python lacks the project or torch; run with the project's "
              "virtual environment): CPU workers load torch", file=sys.stderr)  # fmt: skip
        return []
    st_config, onnx_package, onnx_pack, settings_module = tools
    settings = settings_module.Settings().with_overrides(onnx_cache_dir=work, handler="auto")
    root = source.resolve()
    found = dict((name, path) for path, name in members)
    extra: list[Member] = []
    for model in packed:
        if model.kind != "embedding":
            continue
        folder = found.get(model.path, root) if model.path else root
        transformer = st_config.read_st_config(folder).transformer_dir
        shipped = transformer / onnx_package.PACKAGE_DIR
        if onnx_package.read_package(shipped, onnx_package.fingerprint(transformer)) is not None:
            print(f"ONNX package: {model.name or folder.name}: up to date in the folder", file=sys.stderr)
            continue
        try:
            result = onnx_pack.export_folder(folder, settings, "cache")
        except Exception as exc:  # noqa: BLE001 - weights torch cannot load, an exporter refusal: packed without
            if mode == "yes":
                raise SystemExit(f"ONNX package: {model.name or folder.name}: {type(exc).__name__}: {exc}") from None
            print(f"ONNX package: {model.name or folder.name}: not exported ({type(exc).__name__}: {exc}); CPU "
                  "workers load torch", file=sys.stderr)  # fmt: skip
            continue
        print(f"ONNX package: {model.name or folder.name}: {result.reason}", file=sys.stderr)
        if result.package is None:
            continue
        # the package's folder and files, beside the model's config (whose folders the archive already holds)
        base = PurePosixPath(model.path or ".", transformer.relative_to(folder).as_posix(), onnx_package.PACKAGE_DIR)
        extra.append((result.package, str(base)))
        extra += [(path, f"{base}/{path.name}") for path in sorted(result.package.iterdir()) if path.is_file()]
    return extra


def read_archive(archive: Path) -> list[Packed]:
    """What a model archive holds, read as the server reads the folder it is extracted into: its one model (files
    at the root) or its set (a manifest, or several model folders). Only the small files the kind is read from are
    taken out, into a scratch folder. ``ValueError`` when the archive cannot be read or holds no model;
    ``SystemExit`` for a set the server would refuse."""
    files: list[tuple[str, int]] = []
    with tempfile.TemporaryDirectory(prefix="model-archive-") as scratch:
        skeleton = Path(scratch)
        try:
            with tarfile.open(archive, "r|*") as tar:  # one pass over the stream, whatever the archive's size
                for member in tar:
                    parts = [part for part in PurePosixPath(member.name).parts if part not in (".", "")]
                    if not member.isfile() or not parts or member.name.startswith("/") or ".." in parts:
                        continue
                    files.append(("/".join(parts), member.size))
                    if parts[-1] in DESCRIBING_FILES and member.size <= LARGEST_JSON:
                        handle = tar.extractfile(member)
                        if handle is not None:
                            target = skeleton.joinpath(*parts)
                            target.parent.mkdir(parents=True, exist_ok=True)
                            target.write_bytes(handle.read(CARD_BYTES if parts[-1] == "README.md" else -1))
        except (OSError, tarfile.TarError) as err:
            raise ValueError(f"cannot read {archive} as a model archive: {err}") from None
        try:
            models = set_models(skeleton)
        except SystemExit as err:
            raise SystemExit(str(err).replace(str(skeleton), str(archive))) from None

        def held(prefix: str) -> tuple[int, int]:
            sizes = [size for name, size in files if not prefix or name.startswith(prefix + "/")]
            return len(sizes), sum(sizes)

        if not models:
            if not is_model_folder(skeleton):
                raise ValueError(f"{archive}: no config.json or modules.json at the archive root, and no model set")
            kind = model_kind(skeleton)
            return [Packed(None, "", kind, describe(skeleton, kind), *held(""))]
        packed = []
        for name, folder, handler in models:
            prefix = folder.relative_to(skeleton).as_posix()
            kind = served_kind(folder, handler)
            packed.append(Packed(name, prefix, kind, describe(folder, kind), *held(prefix)))
        return packed


def report(archive: Path, packed: list[Packed]) -> str:
    """What an archive holds, as the packer prints it: the model's kind and requests, or each model of the set."""
    size_mb = archive.stat().st_size / 1e6
    if len(packed) == 1 and packed[0].name is None:
        model = packed[0]
        return (f"{archive}: {model.files} files at the archive root, {size_mb:.1f} MB; {model.label}: "
                f"{USAGE[model.kind]}")  # fmt: skip
    lines = [f"{archive}: a set of {len(packed)} models, {sum(m.files for m in packed)} files, {size_mb:.1f} MB; "
             'a request names its model in the body\'s "model" (or the X-Model header), else gets the first model of '
             "the route's kind:"]  # fmt: skip
    for model in packed:
        lines.append(f"  {model.name} ({model.path}/, {model.files} files, {model.size / 1e6:.1f} MB): {model.label}: "
                     f"{USAGE[model.kind]}")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path, help="folder with config.json or modules.json and *.safetensors, a "
                        "set's root (models.json, or several model folders), or a .tar.gz to read")
    parser.add_argument("-o", "--output", type=Path, default=Path("model.tar.gz"), help="default: ./model.tar.gz")
    parser.add_argument("--level", type=int, default=6, choices=range(1, 10), help="gzip level (default 6)")
    parser.add_argument("--allow-no-safetensors", action="store_true", help="pack even without *.safetensors")
    parser.add_argument("--kind", choices=KINDS, help="fail unless the folder (each model of a set) is this kind")
    parser.add_argument("--allow-links-outside", action="store_true",
                        help="pack symlinks that lead out of the model folder (default: refuse them)")
    parser.add_argument("--onnx", choices=("auto", "yes", "no"), default="auto",
                        help="add each embedding model's ONNX package, so CPU workers start without torch (auto: when "
                        "run with the project's virtual environment; docs/performance/cpu.md#cpu-backends)")
    args = parser.parse_args(argv)

    if args.model_dir.is_file() and args.model_dir.name.endswith((".tar.gz", ".tgz", ".tar")):
        try:
            print(report(args.model_dir, read_archive(args.model_dir)), file=sys.stderr)
        except ValueError as err:
            raise SystemExit(str(err)) from None
        return 0
    packed = pack_root(args.model_dir, args.output, args.level, args.allow_no_safetensors, args.allow_links_outside,
                       args.kind, args.onnx)  # fmt: skip
    print(report(args.output, packed), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
