"""Tiny random late-interaction (ColBERT-style) folders over the real all-MiniLM-L6-v2 tokenizer. Offline.

* ``build_pylate_colbert``: PyLate's layout, as PyLate (and jina-colbert-v2) saves it, written by hand since PyLate
  is not installed: a BERT at the root, ``1_Dense`` (``pylate.models.Dense.Dense``) projecting 32 -> 16, and the
  ColBERT knobs at the top of ``config_sentence_transformers.json``.
* ``build_native_colbert``: the same kind of model built from Sentence Transformers 6 modules (Transformer with
  ``query_expansion``, Dense, MultiVectorMask, Normalize) and saved by ``MultiVectorEncoder.save``.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from transformers import AutoTokenizer, BertConfig, BertModel

from inference.model_dir import embedded_model_dir

HIDDEN, WIDTH = 32, 16
QUERY_LENGTH, DOCUMENT_LENGTH = 12, 40
MATRYOSHKA = [16, 8, 4]
IDENTITY = "torch.nn.modules.linear.Identity"


def _bert(folder: Path, tokenizer: Any, seed: int, **config: Any) -> None:
    """A 2-layer BERT of width 32 over ``tokenizer``'s vocabulary, with the tokenizer, saved at ``folder``."""
    bert = BertConfig(
        vocab_size=len(tokenizer), hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=64, **config,
    )  # fmt: skip
    torch.manual_seed(seed)
    BertModel(bert).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _dense_weights(seed: int, bias: bool) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    weights = {"linear.weight": torch.randn(WIDTH, HIDDEN, generator=generator) / HIDDEN**0.5}
    if bias:
        weights["linear.bias"] = torch.randn(WIDTH, generator=generator)
    return weights


def build_pylate_colbert(
    folder: Path,
    attend: bool = False,
    markers: tuple[str, str] = ("[unused0]", "[unused1]"),
    added_markers: bool = False,
    activation: str = IDENTITY,
    model_type: str | None = None,
    matryoshka: list[int] | None = None,
    seed: int = 7,
) -> Path:
    """PyLate's layout. ``markers`` are the query/document prefixes; ``added_markers`` adds them to the tokenizer
    (as PyLate does for ``[Q] ``-style markers, and jina-colbert-v2's ``[QueryMarker]``), else they must already
    be vocabulary entries (``[unused0]``). ``matryoshka``: ``matryoshka_dimensions`` in config.json."""
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir())
    if added_markers:
        tokenizer.add_tokens(list(markers))
    extra = {"matryoshka_dimensions": matryoshka} if matryoshka else {}
    _bert(folder, tokenizer, seed, **extra)
    dense = folder / "1_Dense"
    dense.mkdir()
    config = {"in_features": HIDDEN, "out_features": WIDTH, "bias": True, "activation_function": activation,
              "use_residual": False}  # fmt: skip
    (dense / "config.json").write_text(json.dumps(config))
    save_file(_dense_weights(seed, bias=True), str(dense / "model.safetensors"))
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Dense", "type": "pylate.models.Dense.Dense"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    # PyLate rewrites max_seq_length on every tokenize call: what was saved is the last call's (here a query's).
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": QUERY_LENGTH - 1,
                                                                  "do_lower_case": False}))  # fmt: skip
    st_config: dict[str, Any] = {
        "__version__": {"sentence_transformers": "3.4.1", "transformers": "4.48.2", "pytorch": "2.5.1"},
        "prompts": {}, "default_prompt_name": None, "similarity_fn_name": "MaxSim",
        "query_prefix": markers[0], "document_prefix": markers[1],
        "query_length": QUERY_LENGTH, "document_length": DOCUMENT_LENGTH,
        "attend_to_expansion_tokens": attend, "skiplist_words": list(string.punctuation),
        "do_query_expansion": True,
    }  # fmt: skip
    if model_type:
        st_config["model_type"] = model_type
    (folder / "config_sentence_transformers.json").write_text(json.dumps(st_config, indent=2))
    return folder


def build_native_colbert(
    folder: Path,
    attend: bool = False,
    strategy: str = "fixed",
    query_length: int | None = None,
    truncate_dim: int | None = None,
    seed: int = 11,
) -> Path:
    """The same kind of model built from Sentence Transformers 6 modules and saved by ``MultiVectorEncoder``:
    ``[unused0]`` / ``[unused1]`` registered as special tokens (as ST6 registers a legacy marker) and used as
    the ``query`` / ``document`` prompts; ``matryoshka_dimensions`` [16, 8, 4] in config.json; ``truncate_dim``
    saved in config_sentence_transformers.json when given."""
    from sentence_transformers import MultiVectorEncoder
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.base.modules.dense import Dense
    from sentence_transformers.multi_vector_encoder.modules import MultiVectorMask

    base = folder.parent / f"{folder.name}-base"
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir())
    tokenizer.add_special_tokens({"additional_special_tokens": ["[unused0]", "[unused1]"]})
    _bert(base, tokenizer, seed, matryoshka_dimensions=MATRYOSHKA)
    expansion = {"strategy": strategy, "attend": attend, "length": QUERY_LENGTH}
    transformer = Transformer(str(base), query_length=query_length, document_length=DOCUMENT_LENGTH,
                              query_expansion=expansion)  # fmt: skip
    dense = Dense(HIDDEN, WIDTH, bias=True, activation_function=torch.nn.Tanh(), module_input_name="token_embeddings")
    dense.load_state_dict(_dense_weights(seed, bias=True))
    modules = [transformer, dense, MultiVectorMask(skiplist_words=list(string.punctuation)),
               Normalize(module_input_name="token_embeddings")]  # fmt: skip
    model = MultiVectorEncoder(modules=modules, prompts={"query": "[unused0]", "document": "[unused1]"},
                               device="cpu", truncate_dim=truncate_dim)  # fmt: skip
    model.save(str(folder))
    return folder
