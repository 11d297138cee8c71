"""Read sentence-transformers metadata from a model folder, without importing sentence-transformers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .pooling_numpy import POOLING_MODES

# sentence-transformers Pooling config keys -> our pooling mode names, in its order of precedence.
_ST_POOLING_KEYS = (
    ("pooling_mode_cls_token", "cls"),
    ("pooling_mode_lasttoken", "lasttoken"),
    ("pooling_mode_max_tokens", "max"),
    ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"),
    ("pooling_mode_mean_tokens", "mean"),
)
_KNOWN_MODULES = {"Transformer", "Pooling", "Normalize"}


class ModelFolderError(ValueError):
    """The model folder's metadata is unusable; the message says why."""


@dataclass(frozen=True)
class STConfig:
    """What the service needs from sentence-transformers metadata. Defaults fit a bare HF encoder."""

    transformer_dir: Path
    pooling: str = "mean"
    max_seq_length: int | None = None
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ModelFolderError(f"cannot read {path}: {err}") from err


def _pooling_mode(config: dict[str, Any]) -> str:
    mode = config.get("pooling_mode")
    if isinstance(mode, str):
        mode = {"mean_tokens": "mean", "cls_token": "cls", "max_tokens": "max"}.get(mode, mode)
        if mode not in POOLING_MODES:
            raise ModelFolderError(f"unsupported pooling mode {mode!r}")
        return mode
    for key, name in _ST_POOLING_KEYS:
        if config.get(key):
            return name
    return "mean"


def read_st_config(folder: Path) -> STConfig:
    """Parse modules.json, the Pooling module config, sentence_bert_config.json and prompts."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return STConfig(transformer_dir=folder)
    transformer_dir, pooling = folder, "mean"
    for module in _read_json(modules_file):
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        if kind not in _KNOWN_MODULES:
            raise ModelFolderError(f"unsupported sentence-transformers module {module.get('type')!r}")
        path = folder / module.get("path", "")
        if kind == "Transformer":
            transformer_dir = path
        elif kind == "Pooling":
            pooling = _pooling_mode(_read_json(path / "config.json"))
    max_seq_length = None
    for name in ("sentence_bert_config.json", "sentence_xlnet_config.json"):
        if (transformer_dir / name).is_file():
            max_seq_length = _read_json(transformer_dir / name).get("max_seq_length")
            break
    st_file = folder / "config_sentence_transformers.json"
    st_meta = _read_json(st_file) if st_file.is_file() else {}
    prompts = {str(k): str(v) for k, v in (st_meta.get("prompts") or {}).items()}
    return STConfig(
        transformer_dir=transformer_dir,
        pooling=pooling,
        max_seq_length=max_seq_length,
        prompts=prompts,
        default_prompt_name=st_meta.get("default_prompt_name"),
    )
