"""Handler registry: settings -> a loaded handler of the folder's kind (embed, rerank, multivector, classify,
sparse). Torch is imported only by real handlers."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.protocol import (
    ClassifierHandler,
    EmbeddingHandler,
    ImageEmbeddingHandler,
    MultiVectorHandler,
    RerankHandler,
    SparseHandler,
)
from ..model_dir import resolve_model_dir
from ..settings import Settings

log = logging.getLogger(__name__)

# The families served as rerankers (kind ``rerank``): cross-encoders, decoder rerankers, listwise rerankers.
RERANK_FAMILIES = frozenset({"rerank", "llm-rerank", "listwise-rerank"})

if TYPE_CHECKING:  # core.forward imports the batcher, and with it the metrics: not before the server sets them up
    from ..core.forward import Handler


def model_family(folder: Path) -> str:
    """``multivector`` for late-interaction folders (PyLate / Sentence Transformers multi-vector: colbert_folder.py),
    ``sparse`` for sentence-transformers SparseEncoder (SPLADE) folders (splade_folder.py; a bare ``*ForMaskedLM``
    folder only with ``EMB_HANDLER=sparse``),
    ``rerank`` for cross-encoders (``*ForSequenceClassification`` with one label: Hugging Face, sentence-transformers
    CrossEncoder and Jina's rerankers), ``llm-rerank`` for decoder rerankers (``*ForCausalLM`` whose model card says
    ``pipeline_tag: text-ranking``: llm_rerank_folder.py), ``listwise-rerank`` for jina-reranker-v3 (``JinaForRanking``:
    listwise_prompt.py), ``classify`` for ``*ForSequenceClassification`` with
    several labels,
    ``jina-v3`` / ``jina-clip`` for Jina's own model code (``handlers/jina.py``), ``clip`` for CLIP-style two-tower
    models, else ``text``; decided from the folder's sentence-transformers metadata and config.json (model_type,
    auto_map, architectures, id2label / num_labels)."""
    from .colbert_folder import is_late_interaction
    from .splade_folder import is_splade

    if is_late_interaction(folder):
        return "multivector"
    if is_splade(folder):
        return "sparse"
    config = folder / "config.json"
    if config.is_file():
        from .clip_folder import CLIP_MODEL_TYPES
        from .jina import jina_family
        from .listwise_prompt import LISTWISE_RERANK, is_listwise_reranker
        from .llm_rerank_folder import LLM_RERANK, is_decoder_reranker

        data = json.loads(config.read_text(encoding="utf-8"))
        if is_listwise_reranker(data):
            return LISTWISE_RERANK
        if any(str(name).endswith("ForSequenceClassification") for name in data.get("architectures") or ()):
            return "classify" if _label_count(data) > 1 else "rerank"
        if is_decoder_reranker(folder, data):
            return LLM_RERANK
        if family := jina_family(data):
            return family
        if data.get("model_type", "") in CLIP_MODEL_TYPES:
            return "clip"
    return "text"


def _label_count(config: dict[str, Any]) -> int:
    """How many outputs a sequence classifier's head has: ``id2label``'s size, else ``num_labels`` (1 if neither:
    transformers' own default is 2, but a cross-encoder saved without either is a reranker)."""
    labels = config.get("id2label")
    if isinstance(labels, dict) and labels:
        return len(labels)
    number = config.get("num_labels")
    return number if isinstance(number, int) and number > 0 else 1


def load_handler(settings: Settings) -> Handler:
    """Resolve the model folder and build the handler for its family (slow: loads weights)."""
    if settings.handler == "fake":
        from .fake import FakeEmbeddingHandler

        return FakeEmbeddingHandler.from_settings(None, settings)
    folder: Path = resolve_model_dir(settings)
    family = model_family(folder) if settings.handler == "auto" else settings.handler
    if family == "rerank":
        from .rerank import CrossEncoderHandler

        return CrossEncoderHandler.from_settings(folder, settings)
    if family == "llm-rerank":
        from .llm_rerank import DecoderRerankHandler

        return DecoderRerankHandler.from_settings(folder, settings)
    if family == "listwise-rerank":
        from .listwise_rerank import ListwiseRerankHandler

        return ListwiseRerankHandler.from_settings(folder, settings)
    if family == "multivector":
        from .colbert import ColbertHandler

        return ColbertHandler.from_settings(folder, settings)
    if family == "sparse":
        from .splade import SpladeHandler

        return SpladeHandler.from_settings(folder, settings)
    if family == "classify":
        from .classifier import SequenceClassifierHandler

        return SequenceClassifierHandler.from_settings(folder, settings)
    if family.startswith("jina-"):  # jina.py recognises and checks; each family's handler is a module of its own
        from .jina import JINA_CLIP, JINA_V3_NATIVE, refuse_native_v3, require_remote_code

        if family == JINA_V3_NATIVE:
            refuse_native_v3(folder)
        require_remote_code(folder, family, settings)
        if family == JINA_CLIP:
            from .jina_clip import JinaClipHandler

            return JinaClipHandler(folder, settings)
        from .jina_v3 import JinaEmbeddingsV3Handler

        return JinaEmbeddingsV3Handler(folder, settings)
    if family == "clip":
        from .clip import ClipEmbeddingHandler

        return ClipEmbeddingHandler.from_settings(folder, settings)
    return _text_handler(folder, settings)


def _text_handler(folder: Path, settings: Settings) -> Handler:
    """A text encoder: on ONNX Runtime without torch when it ships a verified ONNX package and the settings allow
    (onnx_text.py), else on torch (which exports a package first with ``EMB_CPU_BACKEND=onnx``: onnx_backend.py)."""
    from .onnx_text import OnnxTextEmbeddingHandler, package_to_serve

    package = package_to_serve(folder, settings)
    if package is not None:
        try:
            return OnnxTextEmbeddingHandler(folder, settings, package)
        except Exception as exc:  # noqa: BLE001 - a package ONNX Runtime cannot load (damaged, too new): torch serves
            log.warning("ONNX package %s cannot be served (%s: %s): torch serves", package.folder,
                        type(exc).__name__, exc)  # fmt: skip
    from .text import TextEmbeddingHandler

    return TextEmbeddingHandler.from_settings(folder, settings)


__all__ = ["RERANK_FAMILIES", "ClassifierHandler", "EmbeddingHandler", "ImageEmbeddingHandler", "MultiVectorHandler",
           "RerankHandler", "SparseHandler", "load_handler", "model_family"]  # fmt: skip
