"""Export a loaded text encoder into an ONNX package (onnx_package.py) and check it against torch.

The graph comes from ``torch.onnx.export`` (the TorchScript exporter: dynamic batch and sequence axes, eager
attention, which ONNX Runtime's optimiser fuses); the package is written beside its target and renamed into place,
its manifest last, so a package is either whole and verified or absent. ``onnx-int8`` quantises the fp32 graph once
more (``quantize``). Used by ``embed-serve export-onnx`` (export_cli.py) and by a first start with
``EMB_CPU_BACKEND=onnx`` (onnx_backend.py).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers

from .loading import LoadedModel
from .onnx_package import MANIFEST, MODEL_FILE, TOKENIZER_FILE, fingerprint, write_manifest
from .onnx_session import OnnxSession
from .tokenization import uncut_tokenizer

OPSET = 17
PROBE_TOLERANCE = 1e-3  # on hidden states (MiniLM: 2e-7); a wrong trace (a shape baked in) is off by far more
INT8_KEEP_FP32 = re.compile(r"layer\.\d+/output/dense/")  # MatMul node names (the exporter's module paths)
EXPORTS = [0]  # exports done by this process (the tests' proof that a package was reused)


class ExportError(RuntimeError):
    """The exported graph is not the model (it differs from torch on the probe batch)."""


class _LastHidden(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden: torch.Tensor = self.model(input_ids=input_ids, attention_mask=attention_mask)[0]
        return hidden


def vocab_size(model: torch.nn.Module) -> int:
    return int(getattr(getattr(model, "config", None), "vocab_size", 1000))


def _export_graph(model: torch.nn.Module, path: Path) -> None:
    attention = getattr(model.config, "_attn_implementation", None)
    switch: Any = getattr(model, "set_attn_implementation", None)
    eager = switch is not None and attention not in (None, "eager")
    vocab = vocab_size(model)
    try:
        # Eager attention's graph is the one ONNX Runtime's optimiser fuses (bias + GELU and more); SDPA's exports
        # into more, smaller operations (measured: a few % slower on one thread).
        if eager:
            switch("eager")
        wrapper = _LastHidden(model).eval()  # export() puts the module back in the mode it found it in
        ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 102], [101, 7592, 102, 0, 0, 0, 0]]) % vocab
        mask = (torch.arange(ids.shape[1]) < torch.tensor([[7], [3]])).long()
        axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                "hidden": {0: "batch", 1: "sequence"}}  # fmt: skip
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer and deprecation warnings: the probe checks the result
            torch.onnx.export(
                wrapper, (ids, mask), str(path), dynamo=False, input_names=["input_ids", "attention_mask"],
                output_names=["hidden"], dynamic_axes=axes, opset_version=OPSET,
            )  # fmt: skip
        EXPORTS[0] += 1
    finally:
        if eager:
            switch(attention)
        model.eval()


def probe_difference(session: OnnxSession, model: torch.nn.Module) -> tuple[float, float]:
    """(largest difference, cosine) of the session's hidden states and torch's on a probe batch of three lengths."""
    vocab = vocab_size(model)
    ids = (torch.arange(3 * 11).reshape(3, 11) * 37 + 5) % vocab
    mask = (torch.arange(11) < torch.tensor([[11], [6], [2]])).long()
    with torch.inference_mode():
        expected = model(input_ids=ids, attention_mask=mask)[0].float().numpy()
    got = session.hidden(ids.numpy(), mask.numpy())
    keep = mask.numpy().astype(bool)
    got, expected = got[keep], expected[keep]
    cosine = float(np.dot(got.ravel(), expected.ravel()) / (np.linalg.norm(got) * np.linalg.norm(expected)))
    return float(np.abs(got - expected).max()), cosine


def build_package(loaded: LoadedModel, transformer_dir: Path, target: Path, max_length: int) -> float:
    """Export ``loaded`` (read from ``transformer_dir``; ``max_length``: the model's own longest input) into the
    package folder ``target`` (replaced if there), checked against torch: its largest probe difference.
    ``ExportError`` when the graph is not the model."""
    model, config, tokenizer = loaded.model, loaded.config, loaded.tokenizer
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        _export_graph(model, work / MODEL_FILE)
        difference, _ = probe_difference(OnnxSession(work / MODEL_FILE, torch.get_num_threads()), model)
        if not difference <= PROBE_TOLERANCE:
            raise ExportError(f"the ONNX export differs from torch by {difference:.2g} on a probe batch")
        (work / TOKENIZER_FILE).write_text(uncut_tokenizer(tokenizer).to_str(), encoding="utf-8")
        pad_id = getattr(tokenizer, "pad_token_id", None)
        write_manifest(work, fingerprint(transformer_dir), {
            "model_type": str(getattr(config, "model_type", "")), "dimensions": int(config.hidden_size),
            "max_length": max_length, "pad_id": pad_id if pad_id is not None else 0,
            "special_ids": sorted(int(i) for i in getattr(tokenizer, "all_special_ids", ())),
            "probe_difference": difference, "opset": OPSET, "torch": torch.__version__,
            "transformers": transformers.__version__,
        })  # fmt: skip
        if target.exists():  # an older package: replaced whole (its manifest goes first, so it is never half used)
            (target / MANIFEST).unlink(missing_ok=True)
            shutil.rmtree(target)
        os.replace(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return difference


def quantize(fp32: Path, out: Path) -> None:
    """Dynamic int8, per-channel weight scales, the FFN down projections left fp32 (written beside, renamed). The
    quantiser writes a shape-inferred copy beside the model it reads, so it reads it through a link in a scratch
    folder beside ``out``: the package's folder may be read-only or shared with another worker."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    nodes = onnx.load(str(fp32), load_external_data=False).graph.node
    keep = [n.name for n in nodes if n.op_type == "MatMul" and INT8_KEEP_FP32.search(n.name)]
    external = any(p.is_file() and p.suffix not in (".onnx", ".json") for p in fp32.parent.iterdir())
    large = fp32.stat().st_size > 1_500_000_000 or external
    scratch = Path(tempfile.mkdtemp(prefix=".quantize-", dir=out.parent))
    try:
        for path in fp32.parent.iterdir():  # the graph and any external data files it names
            if path.is_file() and path.suffix != ".json":
                (scratch / path.name).symlink_to(path.resolve())
        work = scratch / f"{out.name}.part"
        quantize_dynamic(scratch / fp32.name, work, weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_exclude=keep, use_external_data_format=large)  # fmt: skip
        os.replace(work, out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
