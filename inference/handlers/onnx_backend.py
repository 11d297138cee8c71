"""ONNX Runtime under the torch text handler (``EMB_CPU_BACKEND``, docs/performance/cpu.md#cpu-backends).

A model that ships a verified ONNX package is served without torch at all (onnx_text.py). This module covers the
rest, once torch has loaded the model: ``EMB_CPU_BACKEND=onnx`` exports a package into ``EMB_ONNX_CACHE_DIR`` (one
worker exports, the others wait; later starts find it and skip torch), and ``onnx-int8`` (opt-in, approximate) runs
the package's graph quantised once more: dynamic int8 with one scale per output channel of each weight, the FFN down
projections (``layer.N/output/dense``, whose GELU outputs carry outliers) left fp32. Its vectors are close to fp32's,
not equal, and change a little with the other texts in the batch. ``auto`` never exports at start: torch serves a
model without a package.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import Any, Literal

import torch

from ..settings import Settings
from .loading import LoadedModel
from .onnx_export import PROBE_TOLERANCE, build_package, probe_difference, quantize
from .onnx_package import INT8_FILE, cache_dir, cache_package_dir, find_package, fingerprint
from .onnx_session import OnnxSession
from .onnx_text import FAMILIES

log = logging.getLogger(__name__)

Backend = Literal["torch", "onnx", "onnx-int8"]
INT8_PROBE_COSINE = 0.9  # int8 hidden states against torch's: approximate, but not a broken graph


class OnnxEncoder:
    """An ONNX Runtime session behind the torch handler: torch tensors in and out."""

    def __init__(self, path: Path, threads: int) -> None:
        self.path = path
        self.session = OnnxSession(path, threads)

    def hidden(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.session.hidden(input_ids.numpy(), mask.numpy()))


def chosen_backend(settings: Settings, device: torch.device) -> Backend:
    """``EMB_CPU_BACKEND`` for a model torch has loaded: GPUs always torch, and ``auto`` too (it serves ONNX only
    from a package, without loading torch: onnx_text.py)."""
    if device.type != "cpu" or settings.cpu_backend == "auto":
        return "torch"
    return settings.cpu_backend


def unsupported(model: Any, config: Any, dtype: torch.dtype, settings: Settings) -> str | None:
    """Why this loaded model stays on torch, or None when it can be exported."""
    if settings.compile != "off":
        return f"EMB_COMPILE={settings.compile}"
    if dtype != torch.float32:
        return f"dtype {dtype}"
    if getattr(config, "auto_map", None) or getattr(config, "lora_adaptations", None):
        return "a model with its own code or task adapters"
    if getattr(config, "model_type", None) not in FAMILIES:
        return f"family {getattr(config, 'model_type', None)!r}"
    if not isinstance(model, torch.nn.Module):
        return "not a torch module"
    return None


def _package_model(loaded: LoadedModel, folder: Path, settings: Settings, int8: bool, max_length: int) -> Path | None:
    """The graph to run: the model's package (exported into the cache now if there is none), int8 if asked. Workers
    starting together take turns on a lock in the cache: one exports or quantises, the others then find it done."""
    source = fingerprint(folder)
    cached = cache_package_dir(settings, folder, source)  # where an export goes, and the lock's name
    package = find_package(folder, settings, source)
    if package is not None and (not int8 or (package.folder / INT8_FILE).is_file()):
        return package.model_path if not int8 else package.folder / INT8_FILE
    target = package.folder if package is not None else cached
    try:
        root = cache_dir(settings)
        root.mkdir(parents=True, exist_ok=True)
        with open(root / f"{cached.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            package = find_package(folder, settings, source)  # another worker may have exported it meanwhile
            if package is None:
                log.info("exporting %s to ONNX in %s", folder, target)
                build_package(loaded, folder, target, max_length)
                package = find_package(folder, settings, source)
            if package is None or not int8:
                return None if package is None else package.model_path
            path = package.folder / INT8_FILE
            if not path.is_file() and not os.access(package.folder, os.W_OK):  # a read-only model folder
                path = cached / INT8_FILE
                path.parent.mkdir(parents=True, exist_ok=True)
            if not path.is_file():
                quantize(package.model_path, path)
            return path
    except Exception as exc:  # noqa: BLE001 - an unwritable or full cache, an export the exporter refuses: torch serves
        log.warning("ONNX export or cache %s failed (%s: %s): torch serves", target, type(exc).__name__, exc)
        return None


def open_encoder(loaded: LoadedModel, folder: Path, settings: Settings, adapters: bool, max_length: int
                 ) -> OnnxEncoder | None:  # fmt: skip
    """The ONNX Runtime encoder of the model ``loaded`` from ``folder`` when ``EMB_CPU_BACKEND`` asks for it and the
    model can be exported (``adapters``: the handler attached task adapters; ``max_length``: the model's own longest
    input); None: torch serves."""
    backend = chosen_backend(settings, loaded.device)
    if backend == "torch":
        return None
    model = loaded.model
    why_not = "task adapters" if adapters else unsupported(model, loaded.config, loaded.dtype, settings)
    if why_not is not None:
        log.info("ONNX Runtime backend not used for %s: %s; torch serves", folder, why_not)
        return None
    int8 = backend == "onnx-int8"
    path = _package_model(loaded, folder, settings, int8, max_length)
    if path is None:
        return None
    try:
        encoder = OnnxEncoder(path, torch.get_num_threads())
        error, cosine = probe_difference(encoder.session, model)
    except Exception as exc:  # noqa: BLE001 - a session ONNX Runtime cannot build or run: torch serves
        log.warning("ONNX Runtime cannot run %s (%s: %s): torch serves", path, type(exc).__name__, exc)
        return None
    if (cosine < INT8_PROBE_COSINE) if int8 else (error > PROBE_TOLERANCE):
        log.warning("ONNX model %s differs from torch on a probe batch (%.2g, cosine %.4f): torch serves",
                    path, error, cosine)  # fmt: skip
        return None
    log.info("ONNX Runtime %s backend: %s (%d threads; probe difference %.1g, cosine %.6f)",
             "int8" if int8 else "fp32", path, torch.get_num_threads(), error, cosine)  # fmt: skip
    return encoder
