"""ONNX Runtime fp32 backend of the text encoders on CPU (``EMB_CPU_BACKEND``, docs/performance/cpu.md#cpu-backends).

The transformers model the handler loaded is exported once with ``torch.onnx.export`` (the TorchScript exporter:
dynamic batch and sequence axes, output the last hidden state; pooling stays in the handler), cached in
``EMB_ONNX_CACHE_DIR`` under a key of the weights (file names, sizes, modification times) and the exporter's
versions, and run by an ``InferenceSession`` with every graph optimisation and the worker's torch thread count.
Each load checks the session against torch on a probe batch; a model that does not match stays on torch.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnxruntime as ort
import torch
import transformers

from ..settings import Settings
from .loading import LoadedModel

log = logging.getLogger(__name__)

Backend = Literal["torch", "onnx"]
# What `EMB_CPU_BACKEND=auto` runs on CPU: the bench (bench/cpu_backends.py) measured ONNX Runtime fp32 no faster
# than torch at the service's CPU default (one intra-op thread per worker), docs/performance/cpu.md#cpu-backends.
AUTO_CPU_BACKEND: Backend = "torch"
# Encoder families whose export is checked by the tests (BERT, XLM-R) or shares their graph.
FAMILIES = frozenset({"bert", "xlm-roberta", "roberta", "camembert", "mpnet", "distilbert", "electra", "nomic_bert"})
OPSET = 17
FORMAT = 1  # bump when the export changes: old cache folders are then ignored
PROBE_TOLERANCE = 1e-3  # on hidden states; a wrong trace (a shape baked in) is off by far more
EXPORTS = [0]  # exports done by this process (the tests' proof that a cache was reused)
_WEIGHTS = (".safetensors", ".json")


class _LastHidden(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden: torch.Tensor = self.model(input_ids=input_ids, attention_mask=attention_mask)[0]
        return hidden


class OnnxEncoder:
    """The exported encoder: right-padded ``input_ids`` and ``attention_mask`` in, last hidden state out."""

    def __init__(self, path: Path, threads: int) -> None:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Like torch's OMP_WAIT_POLICY=PASSIVE in the service: idle pool threads sleep instead of spinning on
        # cores another worker computes on.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def hidden(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        feeds = {"input_ids": input_ids.numpy(), "attention_mask": mask.numpy()}
        out: np.ndarray = self._session.run(None, feeds)[0]
        return torch.from_numpy(out)


def chosen_backend(settings: Settings, device: torch.device) -> Backend:
    """``EMB_CPU_BACKEND`` resolved: GPUs always torch."""
    if device.type != "cpu":
        return "torch"
    return AUTO_CPU_BACKEND if settings.cpu_backend == "auto" else settings.cpu_backend


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


def cache_key(folder: Path) -> str:
    """The weights' identity (names, sizes, modification times of the folder's safetensors and JSON files) and the
    exporter's versions."""
    digest = hashlib.sha256(f"{FORMAT}:{OPSET}:{torch.__version__}:{transformers.__version__}".encode())
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name.endswith(_WEIGHTS):
            stat = path.stat()
            digest.update(f"\0{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def cache_dir(settings: Settings) -> Path:
    return settings.onnx_cache_dir or Path(tempfile.gettempdir()) / "emb-onnx"


def _export(model: torch.nn.Module, vocab: int, target: Path) -> None:
    """Export ``model`` into the new folder ``target`` (written beside it, then renamed: never half there)."""
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        wrapper = _LastHidden(model).eval()  # export() puts the module back in the mode it found it in
        ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 102], [101, 7592, 102, 0, 0, 0, 0]])
        mask = (torch.arange(ids.shape[1]) < torch.tensor([[7], [3]])).long()
        axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                "hidden": {0: "batch", 1: "sequence"}}  # fmt: skip
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer and deprecation warnings: the probe checks the result
            torch.onnx.export(
                wrapper, (ids % vocab, mask), str(work / "model.onnx"), dynamo=False,
                input_names=["input_ids", "attention_mask"], output_names=["hidden"], dynamic_axes=axes,
                opset_version=OPSET,
            )  # fmt: skip
        model.eval()
        EXPORTS[0] += 1
        os.replace(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _cached_model(model: torch.nn.Module, folder: Path, settings: Settings) -> Path | None:
    """The exported model's file, exported now if this cache has none (one worker exports, the others wait)."""
    root = cache_dir(settings)
    target = root / f"{folder.resolve().name}-{cache_key(folder)}"
    if (target / "model.onnx").is_file():
        return target / "model.onnx"
    try:
        root.mkdir(parents=True, exist_ok=True)
        with open(root / f"{target.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (target / "model.onnx").is_file():
                log.info("exporting %s to ONNX in %s", folder, target)
                _export(model, _vocab(model), target)
    except OSError as exc:
        log.warning("ONNX cache %s not usable (%s): torch serves", root, exc)
        return None
    return target / "model.onnx"


def _vocab(model: torch.nn.Module) -> int:
    return int(getattr(getattr(model, "config", None), "vocab_size", 1000))


def _matches(encoder: OnnxEncoder, model: torch.nn.Module) -> float:
    """Largest difference of the encoder's hidden states from torch's on a probe batch (real tokens only)."""
    vocab = _vocab(model)
    ids = (torch.arange(3 * 11).reshape(3, 11) * 37 + 5) % vocab
    mask = (torch.arange(11) < torch.tensor([[11], [6], [2]])).long()
    with torch.inference_mode():
        expected = model(input_ids=ids, attention_mask=mask)[0].float()
    got = encoder.hidden(ids, mask)
    return float((got - expected).abs()[mask.bool()].max())


def open_encoder(loaded: LoadedModel, folder: Path, settings: Settings, adapters: bool) -> OnnxEncoder | None:
    """The ONNX Runtime encoder of the model ``loaded`` from ``folder`` when ``EMB_CPU_BACKEND`` picks it and the
    model can be exported (``adapters``: the handler attached task adapters); None: torch serves."""
    if chosen_backend(settings, loaded.device) != "onnx":
        return None
    model = loaded.model
    why_not = "task adapters" if adapters else unsupported(model, loaded.config, loaded.dtype, settings)
    if why_not is not None:
        log.info("ONNX Runtime backend not used for %s: %s; torch serves", folder, why_not)
        return None
    path = _cached_model(model, folder, settings)
    if path is None:
        return None
    encoder = OnnxEncoder(path, torch.get_num_threads())
    error = _matches(encoder, model)
    if error > PROBE_TOLERANCE:
        log.warning("ONNX export of %s differs from torch by %.2g on a probe batch: torch serves", folder, error)
        return None
    log.info("ONNX Runtime fp32 backend: %s (%d threads; probe difference %.1g)", path, torch.get_num_threads(), error)
    return encoder
