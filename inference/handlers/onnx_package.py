"""A text encoder's ONNX Runtime package: the exported graph and what serving it needs, so that a worker serves it
without importing torch or transformers (onnx_text.py; docs/performance/cpu.md#cpu-backends).

A package is a folder holding ``model.onnx`` (right-padded ``input_ids`` and ``attention_mask`` in, the last hidden
state out), ``tokenizer.json`` (the Rust tokenizer transformers builds for the model, neither cutting nor padding)
and ``embed-serving.json``, written last: the model's identity (``fingerprint``), its width, length, padding and
special tokens, and the largest difference to torch measured on a probe batch when it was exported. It is made by
``embed-serve export-onnx`` (``pack_model`` and the image build run it) into ``<transformer
folder>/embed-serving-onnx/``, or by a first start with ``EMB_CPU_BACKEND=onnx`` into ``EMB_ONNX_CACHE_DIR``.
No torch here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..settings import Settings

log = logging.getLogger(__name__)

# Inside the transformer folder; not onnx/, where Hub repositories keep exports of their own.
PACKAGE_DIR = "embed-serving-onnx"
MANIFEST = "embed-serving.json"
MODEL_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
FORMAT = 3  # bump when the export or the manifest changes: older packages are then ignored (torch serves)
_SAMPLES = 16  # 4 KiB reads spread over each weights file, besides its header (fingerprint)
_SAMPLE_BYTES = 4096


@dataclass(frozen=True)
class OnnxPackage:
    """A verified package (``read_package``)."""

    folder: Path
    model_type: str
    dimensions: int
    max_length: int  # the model's own longest input (before EMB_MAX_LENGTH)
    pad_id: int
    special_ids: frozenset[int]
    probe_difference: float  # largest difference of hidden states to torch's, at export

    @property
    def model_path(self) -> Path:
        return self.folder / MODEL_FILE

    @property
    def tokenizer_path(self) -> Path:
        return self.folder / TOKENIZER_FILE


def _safetensors_digest(path: Path, digest: Any) -> None:
    """The file's size, its header (tensor names, shapes, offsets) and 16 samples spread over its data: other
    weights in the same architecture differ there, and it costs a millisecond where hashing all would cost 0.1 s
    per 100 MB at every start."""
    size = path.stat().st_size
    digest.update(f"\0{path.name}:{size}".encode())
    with open(path, "rb") as handle:
        head = handle.read(8)
        digest.update(head)
        if len(head) == 8:
            digest.update(handle.read(min(int.from_bytes(head, "little"), 100_000_000)))
        for i in range(_SAMPLES):
            handle.seek(size * i // _SAMPLES)
            digest.update(handle.read(_SAMPLE_BYTES))


def fingerprint(folder: Path) -> str:
    """The identity of the model in ``folder``: its JSON files (config, tokenizer) whole, and its safetensors
    weights sampled. A copy of the folder (other modification times) keeps it; other weights do not."""
    digest = hashlib.sha256(f"format {FORMAT}".encode())
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        if path.suffix == ".safetensors":
            _safetensors_digest(path, digest)
        elif path.suffix in (".json", ".txt", ".model"):  # config, tokenizer files, vocab.txt, sentencepiece
            digest.update(f"\0{path.name}:".encode() + path.read_bytes())
    return digest.hexdigest()[:20]


def cache_dir(settings: Settings) -> Path:
    return settings.onnx_cache_dir or Path(tempfile.gettempdir()) / "emb-onnx"


def cache_package_dir(settings: Settings, transformer_dir: Path, print_: str | None = None) -> Path:
    """Where a first start's export of ``transformer_dir`` goes in ``EMB_ONNX_CACHE_DIR``."""
    return cache_dir(settings) / f"{transformer_dir.resolve().name}-{print_ or fingerprint(transformer_dir)}"


def read_package(folder: Path, source_print: str) -> OnnxPackage | None:
    """The package in ``folder`` when it is complete, of this format and made from the model ``source_print``
    identifies; None otherwise (the reason is logged)."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            log.info("ONNX package %s: format %s, not %s (export it again): torch serves", folder,
                     data.get("format"), FORMAT)  # fmt: skip
            return None
        if data.get("source") != source_print:
            log.warning("ONNX package %s was exported from other weights than the model's: torch serves", folder)
            return None
        package = OnnxPackage(
            folder=folder, model_type=str(data["model_type"]), dimensions=int(data["dimensions"]),
            max_length=int(data["max_length"]), pad_id=int(data["pad_id"]),
            special_ids=frozenset(int(i) for i in data["special_ids"]),
            probe_difference=float(data["probe_difference"]),
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ONNX package %s unreadable (%s: %s): torch serves", folder, type(exc).__name__, exc)
        return None
    if not (package.model_path.is_file() and package.tokenizer_path.is_file()):
        log.warning("ONNX package %s lacks %s or %s: torch serves", folder, MODEL_FILE, TOKENIZER_FILE)
        return None
    return package


def find_package(transformer_dir: Path, settings: Settings, source: str | None = None) -> OnnxPackage | None:
    """The model's package: the one shipped beside it (``embed-serving-onnx/``), else one a first start left in the
    cache (``source``: the model's ``fingerprint``, when the caller has it)."""
    source = source or fingerprint(transformer_dir)
    for folder in (transformer_dir / PACKAGE_DIR, cache_package_dir(settings, transformer_dir, source)):
        package = read_package(folder, source)
        if package is not None:
            return package
    return None


def write_manifest(folder: Path, source_print: str, fields: dict[str, Any]) -> None:
    """Write the manifest last, atomically: a package without it is never used."""
    data = {"format": FORMAT, "source": source_print, **fields}
    part = folder / f".{MANIFEST}.part"
    part.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    part.replace(folder / MANIFEST)
