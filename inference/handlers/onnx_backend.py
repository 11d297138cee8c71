"""ONNX Runtime backend of the text encoders on CPU (``EMB_CPU_BACKEND``, docs/performance/cpu.md#cpu-backends).

The transformers model the handler loaded is exported once with ``torch.onnx.export`` (the TorchScript exporter:
dynamic batch and sequence axes, output the last hidden state; pooling stays in the handler), cached in
``EMB_ONNX_CACHE_DIR`` under a key of the weights (file names, sizes, modification times) and the exporter's
versions, and run by an ``InferenceSession`` with every graph optimisation and the worker's torch thread count.
Each load checks the session against torch on a probe batch; a model that does not match stays on torch.

``onnx-int8`` (opt-in, approximate): the fp32 export quantised once more, dynamic int8 with one scale per output
channel of each weight; the FFN down projections (``layer.N/output/dense``, whose GELU outputs carry outliers) stay
fp32. Its vectors are close to fp32's, not equal, and change a little with the other texts in the batch.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import transformers

from ..settings import Settings
from .loading import LoadedModel

log = logging.getLogger(__name__)

Backend = Literal["torch", "onnx", "onnx-int8"]
# What `EMB_CPU_BACKEND=auto` runs on CPU: torch. ONNX Runtime fp32 gave the same vectors (to 2e-7) and was
# 1.00-1.09x in-process and 1.05-1.23x over HTTP (docs/performance/cpu.md#cpu-backends), but every fresh container
# would pay the export at start (nothing pre-exports it yet) and each worker holds about 300 MiB more: not a default
# for serverless cold starts. The rule below (encoders of at most AUTO_MAX_LENGTH tokens) applies once it is onnx.
AUTO_CPU_BACKEND: Backend = "torch"
# ... for models of at most this many tokens: the exported attention materialises every score (memory ~ length^2),
# where torch's SDPA does not, so long-context models stay on torch unless EMB_CPU_BACKEND=onnx asks.
AUTO_MAX_LENGTH = 512
# Built-in encoder families (model_type): BERT and XLM-R are tested; the rest share their graph, and every load
# checks the export against torch on a probe batch anyway.
FAMILIES = frozenset({"bert", "xlm-roberta", "roberta", "camembert", "mpnet", "distilbert", "electra"})
OPSET = 17
FORMAT = 2  # bump when the export changes: old cache folders are then ignored
PROBE_TOLERANCE = 1e-3  # on hidden states; a wrong trace (a shape baked in) is off by far more
INT8_PROBE_COSINE = 0.9  # int8 hidden states against torch's: approximate, but not a broken graph
INT8_KEEP_FP32 = re.compile(r"layer\.\d+/output/dense/")  # MatMul node names (the exporter's module paths)
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
        import onnxruntime as ort  # here: a torch-only server never loads it

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
    attention = getattr(model.config, "_attn_implementation", None)
    switch: Any = getattr(model, "set_attn_implementation", None)
    eager = switch is not None and attention not in (None, "eager")
    try:
        # Eager attention's graph is the one ONNX Runtime's optimiser fuses (bias + GELU and more); SDPA's exports
        # into more, smaller operations (measured: a few % slower on one thread).
        if eager:
            switch("eager")
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
        EXPORTS[0] += 1
        os.replace(work, target)
    finally:
        if eager:
            switch(attention)
        model.eval()
        shutil.rmtree(work, ignore_errors=True)


def _quantize(fp32: Path, out: Path) -> None:
    """Dynamic int8, per-channel weight scales, the FFN down projections left fp32 (written beside, renamed)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    nodes = onnx.load(str(fp32), load_external_data=False).graph.node
    keep = [n.name for n in nodes if n.op_type == "MatMul" and INT8_KEEP_FP32.search(n.name)]
    work = out.with_name(f".{out.name}.part")
    large = fp32.stat().st_size > 1_500_000_000 or any(p.suffix != ".onnx" for p in fp32.parent.iterdir())
    quantize_dynamic(fp32, work, weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=keep,
                     use_external_data_format=large)  # fmt: skip
    os.replace(work, out)


def _cached_model(model: torch.nn.Module, folder: Path, settings: Settings, int8: bool) -> Path | None:
    """The exported model's file, exported now if this cache has none (one worker exports, the others wait)."""
    root = cache_dir(settings)
    target = root / f"{folder.resolve().name}-{cache_key(folder)}"
    path = target / ("model-int8.onnx" if int8 else "model.onnx")
    if path.is_file():
        return path
    try:
        root.mkdir(parents=True, exist_ok=True)
        with open(root / f"{target.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (target / "model.onnx").is_file():
                log.info("exporting %s to ONNX in %s", folder, target)
                _export(model, _vocab(model), target)
            if int8 and not path.is_file():
                _quantize(target / "model.onnx", path)
    except Exception as exc:  # noqa: BLE001 - an unwritable or full cache, an export the exporter refuses: torch serves
        log.warning("ONNX export or cache %s failed (%s: %s): torch serves", root, type(exc).__name__, exc)
        return None
    return path


def _vocab(model: torch.nn.Module) -> int:
    return int(getattr(getattr(model, "config", None), "vocab_size", 1000))


def _matches(encoder: OnnxEncoder, model: torch.nn.Module) -> tuple[float, float]:
    """(largest difference, cosine) of the encoder's hidden states and torch's on a probe batch (real tokens)."""
    vocab = _vocab(model)
    ids = (torch.arange(3 * 11).reshape(3, 11) * 37 + 5) % vocab
    mask = (torch.arange(11) < torch.tensor([[11], [6], [2]])).long()
    with torch.inference_mode():
        expected = model(input_ids=ids, attention_mask=mask)[0].float()
    got, expected = encoder.hidden(ids, mask)[mask.bool()], expected[mask.bool()]
    cosine = torch.nn.functional.cosine_similarity(got.flatten(), expected.flatten(), dim=0)
    return float((got - expected).abs().max()), float(cosine)


def open_encoder(loaded: LoadedModel, folder: Path, settings: Settings, adapters: bool, max_length: int
                 ) -> OnnxEncoder | None:  # fmt: skip
    """The ONNX Runtime encoder of the model ``loaded`` from ``folder`` when ``EMB_CPU_BACKEND`` picks it and the
    model can be exported (``adapters``: the handler attached task adapters); None: torch serves."""
    backend = chosen_backend(settings, loaded.device)
    if backend == "torch":
        return None
    model = loaded.model
    why_not = "task adapters" if adapters else unsupported(model, loaded.config, loaded.dtype, settings)
    if why_not is None and settings.cpu_backend == "auto" and max_length > AUTO_MAX_LENGTH:
        why_not = f"EMB_CPU_BACKEND=auto and {max_length} tokens per input (over {AUTO_MAX_LENGTH})"
    if why_not is not None:
        log.info("ONNX Runtime backend not used for %s: %s; torch serves", folder, why_not)
        return None
    int8 = backend == "onnx-int8"
    path = _cached_model(model, folder, settings, int8)
    if path is None:
        return None
    try:
        encoder = OnnxEncoder(path, torch.get_num_threads())
        error, cosine = _matches(encoder, model)
    except Exception as exc:  # noqa: BLE001 - a session ONNX Runtime cannot build or run: torch serves
        log.warning("ONNX Runtime cannot run %s (%s: %s): torch serves", path, type(exc).__name__, exc)
        return None
    if (cosine < INT8_PROBE_COSINE) if int8 else (error > PROBE_TOLERANCE):
        log.warning("ONNX export of %s differs from torch on a probe batch (%.2g, cosine %.4f): torch serves",
                    folder, error, cosine)  # fmt: skip
        return None
    log.info("ONNX Runtime %s backend: %s (%d threads; probe difference %.1g, cosine %.6f)",
             "int8" if int8 else "fp32", path, torch.get_num_threads(), error, cosine)  # fmt: skip
    return encoder
