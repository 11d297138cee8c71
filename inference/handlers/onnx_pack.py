"""``embed-serve export-onnx``: give a model folder (or each model of a set) its ONNX package ahead of time, so that
CPU workers serve it on ONNX Runtime from their first start without importing torch (onnx_text.py). ``pack_model``
and the image build run it; a model that is not a text encoder of a known family is left as it is (torch serves)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..settings import Settings
from .onnx_package import PACKAGE_DIR, cache_package_dir, find_package, fingerprint
from .onnx_text import has_task_adapters
from .st_config import read_st_config

log = logging.getLogger(__name__)

Into = Literal["model", "cache"]


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    package: Path | None  # None: not exported (``reason`` says why)
    reason: str


def export_folder(folder: Path, settings: Settings, into: Into = "model") -> ExportResult:
    """Export ``folder``'s package into ``<transformer folder>/embed-serving-onnx`` (``into="model"``) or
    ``EMB_ONNX_CACHE_DIR``; an up-to-date package is kept. Loads the model with torch on the CPU in float32."""
    from . import model_family

    family = model_family(folder) if settings.handler == "auto" else settings.handler
    if family != "text":
        return ExportResult(folder, None, f"a {family} model: only text encoders are served from ONNX packages")
    st = read_st_config(folder)
    if has_task_adapters(folder, st):
        return ExportResult(folder, None, "task adapters: served on torch")
    source = fingerprint(st.transformer_dir)
    target = st.transformer_dir / PACKAGE_DIR if into == "model" else cache_package_dir(settings, st.transformer_dir,
                                                                                         source)  # fmt: skip
    found = find_package(st.transformer_dir, settings, source)
    if found is not None and found.folder == target:
        return ExportResult(folder, target, f"up to date (probe difference {found.probe_difference:.1g})")

    from .loading import load_hf_model
    from .onnx_backend import unsupported
    from .onnx_export import build_package
    from .tokenization import model_max_length

    cpu = settings.with_overrides(device="cpu", dtype="float32", compile="off", cpu_backend="torch")
    loaded = load_hf_model(st.transformer_dir, cpu)
    why = unsupported(loaded.model, loaded.config, loaded.dtype, cpu)
    if why is not None:
        return ExportResult(folder, None, f"{why}: served on torch")
    own_max = model_max_length(loaded.config, loaded.tokenizer.model_max_length, st.max_seq_length)
    difference = build_package(loaded, st.transformer_dir, target, own_max)
    return ExportResult(folder, target, f"exported (probe difference to torch {difference:.1g})")


def export_served(settings: Settings, into: Into = "model") -> list[ExportResult]:
    """Every served model's package: the model folder's, or each of a set's (model_set.py)."""
    from ..model_dir import resolve_model_dir
    from ..model_set import served_models

    folders = [model.folder for model in served_models(settings)] or [resolve_model_dir(settings)]
    return [export_folder(folder, settings, into) for folder in folders]
