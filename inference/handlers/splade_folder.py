"""SPLADE model folders: how to recognise one, and what it declares (JSON only, no torch).

Served as sentence-transformers 6's ``SparseEncoder`` reads them (the reference): ``modules.json`` lists an
``MLMTransformer`` (a ``*ForMaskedLM`` model; ``max_seq_length`` is saved as the tokenizer's ``model_max_length``,
older saves write it in ``sentence_bert_config.json``) and ``SpladePooling`` (``pooling_strategy`` ``max`` or
``sum``, ``activation_function`` ``relu`` or ``log1p_relu``); ``config_sentence_transformers.json`` has
``model_type: SparseEncoder``, ``prompts``, ``default_prompt_name`` and ``max_active_dims`` (keep the largest N
values of each vector). Other sparse layouts (``SparseStaticEmbedding``, ``SparseAutoEncoder``, a ``Router`` of
them) are refused by name. A bare ``*ForMaskedLM`` folder is not taken for SPLADE (most masked language models are
base checkpoints, not sparse encoders): ``EMB_HANDLER=sparse`` serves one with max pooling of ``relu``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .st_config import ModelFolderError

POOLING_STRATEGIES = ("max", "sum")
ACTIVATIONS = ("relu", "log1p_relu")
_TRANSFORMER_CONFIGS = ("sentence_bert_config.json", "sentence_xlnet_config.json")


@dataclass(frozen=True)
class SpladeConfig:
    """What the handler needs from a SPLADE folder; the defaults fit a bare ``*ForMaskedLM`` folder."""

    transformer_dir: Path
    pooling_strategy: str = "max"
    activation: str = "relu"
    max_seq_length: int | None = None
    max_active_dims: int | None = None
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ModelFolderError(f"cannot read {path}: {err}") from err


def _module_types(folder: Path) -> list[str]:
    entries = _read(folder / "modules.json") if (folder / "modules.json").is_file() else []
    return [str(entry.get("type", "")) for entry in entries if isinstance(entry, dict)]


def is_splade(folder: Path) -> bool:
    """True for a sentence-transformers ``SparseEncoder`` folder (its model type, or a ``SpladePooling`` module)."""
    try:
        types = _module_types(folder)
        st_file = folder / "config_sentence_transformers.json"
        meta = _read(st_file) if st_file.is_file() else {}
    except ModelFolderError:
        return False
    model_type = meta.get("model_type") if isinstance(meta, dict) else None
    return any(kind.rsplit(".", 1)[-1] == "SpladePooling" for kind in types) or (
        bool(types) and model_type == "SparseEncoder")


def read_splade_config(folder: Path) -> SpladeConfig:
    """The folder's SPLADE settings; ``ModelFolderError`` for a sparse layout other than MLMTransformer +
    SpladePooling, or pooling settings the reference does not define."""
    transformer_dir, pooling, activation = folder, "max", "relu"
    entries = _read(folder / "modules.json") if (folder / "modules.json").is_file() else []
    for entry in entries:
        kind = str(entry.get("type", "")).rsplit(".", 1)[-1]
        path = folder / str(entry.get("path", ""))
        if kind in ("MLMTransformer", "Transformer"):
            transformer_dir = path
        elif kind == "SpladePooling":
            config = _read(path / "config.json") if (path / "config.json").is_file() else {}
            pooling = str(config.get("pooling_strategy", "max"))
            activation = str(config.get("activation_function", "relu"))
        else:
            raise ModelFolderError(f"unsupported sparse-encoder module {entry.get('type')!r}: SPLADE models "
                                   "(MLMTransformer + SpladePooling) are served")  # fmt: skip
    if pooling not in POOLING_STRATEGIES or activation not in ACTIVATIONS:
        raise ModelFolderError(f"unsupported SpladePooling: pooling_strategy {pooling!r}, activation_function "
                               f"{activation!r}")  # fmt: skip
    max_seq_length = next((_read(transformer_dir / name).get("max_seq_length") for name in _TRANSFORMER_CONFIGS
                           if (transformer_dir / name).is_file()), None)  # fmt: skip
    st_file = folder / "config_sentence_transformers.json"
    meta = _read(st_file) if st_file.is_file() else {}
    active = meta.get("max_active_dims")
    return SpladeConfig(
        transformer_dir=transformer_dir,
        pooling_strategy=pooling,
        activation=activation,
        max_seq_length=max_seq_length if isinstance(max_seq_length, int) else None,
        max_active_dims=active if isinstance(active, int) and not isinstance(active, bool) and active > 0 else None,
        prompts={str(k): str(v) for k, v in (meta.get("prompts") or {}).items()},
        default_prompt_name=meta.get("default_prompt_name") or None,
    )
