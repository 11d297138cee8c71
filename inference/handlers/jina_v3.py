"""jina-embeddings-v3: the text handler plus what Jina's own ``XLMRobertaLoRA`` code adds.

The text handler already does the task part the way Jina's ``encode`` does it: ``task`` is looked up in
``lora_adaptations`` and its index goes to the model as ``adapter_mask`` (one int32 per row), and the task's entry in
``task_instructions`` is put in front of each text; no task means no adapter and no instruction. This adds:

* ``truncate_dim`` from ``config.json``: vectors come out that wide (Jina's ``encode`` truncates to it by default);
  ``matryoshka_dimensions`` is kept on the handler. A request's ``dimensions`` cuts further, as for every model.
* ``emb_pooler: "cls"`` (Jina's other pooling) when the folder has no sentence-transformers pooling config.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..settings import Settings
from .jina import matryoshka, read_config
from .text import TextEmbeddingHandler

log = logging.getLogger(__name__)


class JinaEmbeddingsV3Handler(TextEmbeddingHandler):
    """``EmbeddingHandler`` for jina-embeddings-v3 folders (``auto_map`` -> ``modeling_lora.XLMRobertaLoRA``)."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        super().__init__(folder, settings)
        config = read_config(self.st_config.transformer_dir)
        self._matryoshka, width = matryoshka(config, self._info.dimensions)
        self._width = width if width < self._info.dimensions else None
        pooling = self._info.pooling
        if config.get("emb_pooler") == "cls" and not (folder / "modules.json").is_file():
            pooling = "cls"
        self._info = dataclasses.replace(self._info, dimensions=width, pooling=pooling)
        log.info("jina-embeddings-v3: adapters %s, matryoshka %s", list(self._adapters), list(self._matryoshka))

    @property
    def matryoshka_dimensions(self) -> tuple[int, ...]:
        """The widths the model was trained to be cut to (``matryoshka_dimensions``; empty when undeclared)."""
        return self._matryoshka

    def forward(self, batch: Sequence[Sequence[int]], task: str | None) -> np.ndarray:
        vectors = super().forward(batch, task)
        return vectors[:, : self._width] if self._width else vectors

    def forward_tokens(self, ids: Sequence[int], task: str | None) -> np.ndarray:
        vectors = super().forward_tokens(ids, task)
        return vectors[:, : self._width] if self._width else vectors
