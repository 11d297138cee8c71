"""Jina AI's own model families, recognised from ``config.json`` as Jina publishes it (reads JSON only).

* ``jina-v3``: jina-embeddings-v3. ``model_type`` is plain ``xlm-roberta``, so the family is told apart by its
  ``auto_map`` (``AutoModel`` -> ``...modeling_lora.XLMRobertaLoRA``, from jinaai/xlm-roberta-flash-implementation)
  or ``architectures``, together with ``lora_adaptations``.
* ``jina-clip``: ``model_type`` ``jina_clip`` (``JinaCLIPModel`` from jinaai/jina-clip-implementation; written
  against jina-clip-v2's code).
* ``jina-v3-native``: transformers' built-in ``jina_embeddings_v3`` type, which has no task adapters: refused
  (served as plain text it would give wrong vectors) unless ``EMB_HANDLER=text`` says the weights need none.

Both run only with Jina's own Python code (``auto_map``), so both need ``EMB_TRUST_REMOTE_CODE=true``; without it
the load stops here with that reason. (For jina-embeddings-v3 this matters beyond the message: its ``model_type``
is a built-in one, so transformers would otherwise quietly build a stock XLM-RoBERTa that cannot read the weights.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..settings import Settings
from .st_config import ModelFolderError

JINA_V3 = "jina-v3"
JINA_CLIP = "jina-clip"
# transformers' own ``jina_embeddings_v3`` model type: the encoder without Jina's task LoRA adapters.
JINA_V3_NATIVE = "jina-v3-native"
JINA_FAMILIES = frozenset({JINA_V3, JINA_CLIP, JINA_V3_NATIVE})
_NAMES = {JINA_V3: "jina-embeddings-v3", JINA_CLIP: "jina-clip"}
V3_MODEL_CLASS = "XLMRobertaLoRA"


def auto_model_class(config: dict[str, Any]) -> str:
    """The class name ``auto_map["AutoModel"]`` points at: ``"repo--module.Class"`` and ``"module.Class"`` give
    ``"Class"``; empty when there is none."""
    target = (config.get("auto_map") or {}).get("AutoModel") or ""
    if isinstance(target, list | tuple):  # processor-style entries list (slow, fast) class names
        target = next((name for name in target if name), "")
    return str(target).rsplit(".", 1)[-1]


def jina_family(config: dict[str, Any]) -> str | None:
    """``jina-v3`` / ``jina-clip`` for Jina's own model code, ``jina-v3-native`` for transformers' built-in
    ``jina_embeddings_v3`` type, else ``None`` (a parsed ``config.json``)."""
    if config.get("model_type") == "jina_clip":
        return JINA_CLIP
    if config.get("model_type") == "jina_embeddings_v3":
        return JINA_V3_NATIVE
    classes = {auto_model_class(config), *(config.get("architectures") or ())}
    if V3_MODEL_CLASS in classes and config.get("lora_adaptations"):
        return JINA_V3
    return None


def read_config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    try:
        config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ModelFolderError(f"cannot read {path}: {err}") from err
    return config


def require_remote_code(folder: Path, family: str, settings: Settings) -> None:
    """Jina's families load only with their own model code: refuse clearly, before transformers, without it."""
    if settings.trust_remote_code:
        return
    config = read_config(folder)
    source = auto_model_class(config) or config.get("model_type", "?")
    raise ModelFolderError(
        f"{folder} holds a {_NAMES[family]} model, which runs only with its own Python code "
        f"(config.json auto_map AutoModel -> {source}); set EMB_TRUST_REMOTE_CODE=true to allow it"
    )


def matryoshka(config: dict[str, Any] | Any, full: int) -> tuple[tuple[int, ...], int]:
    """(``matryoshka_dimensions``, served width) from a config dict or object: the width is ``truncate_dim`` when
    set (Jina's ``encode`` truncates to it by default), else ``full``. A ``truncate_dim`` wider than ``full``, or
    outside a declared ``matryoshka_dimensions`` list (Jina's text code raises there too), is refused."""
    get = config.get if isinstance(config, dict) else lambda key: getattr(config, key, None)
    dims = tuple(int(d) for d in get("matryoshka_dimensions") or ())
    truncate = get("truncate_dim")
    if not truncate:
        return dims, full
    if int(truncate) > full or (dims and int(truncate) not in dims):
        raise ModelFolderError(f"truncate_dim={truncate} is not one of the model's dimensions {list(dims) or full}")
    return dims, int(truncate)


def refuse_native_v3(folder: Path) -> None:
    """transformers' built-in ``jina_embeddings_v3`` holds the encoder only: served as a plain text model it would
    answer without the task adapters jina-embeddings-v3's vectors come from, so wrong vectors. Refused, with the
    ways out (``EMB_HANDLER=text`` serves a folder whose weights need no adapters, such as a fine-tune)."""
    raise ModelFolderError(
        f"{folder} is jina-embeddings-v3 in transformers' built-in layout (model_type jina_embeddings_v3), which "
        "carries none of the model's task LoRA adapters this server can apply: served as a plain text model it "
        "would answer wrong vectors, so it is refused. Serve Jina's published folder (jinaai/jina-embeddings-v3, "
        "with EMB_TRUST_REMOTE_CODE=true) for the task adapters, or set EMB_HANDLER=text if these weights are "
        "meant to be used without adapters"
    )
