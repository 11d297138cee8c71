"""Task LoRA adapters in PEFT format next to a text model's weights, one per task, attached unmerged.

Layouts (the first that is present is used; a folder has either, never both):

* ``<folder>/adapters/<task>/`` with ``adapter_config.json`` and ``adapter_model.safetensors``;
* ``<folder>/<task>/`` holding the same two files: what PEFT's ``save_pretrained`` writes for every adapter but
  the one named ``default``.

Every adapter must be a plain LoRA (``peft_type: LORA``, no DoRA: PEFT cannot run DoRA adapters per row) with
safetensors weights whose every tensor finds its place in the base model. An adapter at the folder's root
(``<folder>/adapter_config.json``) is refused: it names no task. Adapters are never merged into the base
weights: every forward pass names each row's adapter (``adapter_names``; ``__base__`` for none), so rows of
different tasks share one pass and the base weights stay as loaded.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from .st_config import ModelFolderError

log = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
BASE = "__base__"  # PEFT's name for "no adapter" in ``adapter_names``


def find_adapters(folder: Path) -> dict[str, Path]:
    """Task name -> adapter folder, sorted by name (empty when the folder has no adapters)."""
    if (folder / ADAPTER_CONFIG).is_file():
        raise ModelFolderError(
            f"{folder / ADAPTER_CONFIG}: a PEFT adapter at the model folder's root names no task; put each task's "
            "adapter in adapters/<task>/ (adapter_config.json + adapter_model.safetensors) next to the base model"
        )
    root = folder / "adapters"
    if root.is_dir():
        found = {path.name: path for path in sorted(root.iterdir()) if path.is_dir()}
        for path in found.values():
            if not (path / ADAPTER_CONFIG).is_file():
                raise ModelFolderError(f"{path}: no {ADAPTER_CONFIG} (every folder under adapters/ is a task)")
    else:
        found = {path.name: path for path in sorted(folder.iterdir()) if (path / ADAPTER_CONFIG).is_file()}
    for task, path in found.items():
        _check_adapter(task, path)
    return found


def _check_adapter(task: str, path: Path) -> None:
    if task == BASE:
        raise ModelFolderError(f"{path}: {BASE!r} is PEFT's name for the base model, not a task name")
    try:
        config = json.loads((path / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ModelFolderError(f"cannot read {path / ADAPTER_CONFIG}: {err}") from err
    if config.get("peft_type") != "LORA":
        raise ModelFolderError(f"{path}: adapter type {config.get('peft_type')!r}; only LoRA adapters are served")
    if config.get("use_dora"):
        raise ModelFolderError(f"{path}: DoRA adapters cannot be selected per row; only plain LoRA is served")
    if not (path / ADAPTER_WEIGHTS).is_file():
        raise ModelFolderError(f"{path}: no {ADAPTER_WEIGHTS} (adapter weights are loaded from safetensors only)")


def attach_adapters(model: Any, adapters: dict[str, Path], device: torch.device) -> Any:
    """``model`` wrapped in a ``PeftModel`` holding every adapter under its task's name, in eval mode, unmerged."""
    from peft import PeftModel
    from safetensors import safe_open

    tasks = list(adapters)
    peft_model = PeftModel.from_pretrained(model, str(adapters[tasks[0]]), adapter_name=tasks[0],
                                           is_trainable=False, torch_device=str(device))  # fmt: skip
    for task in tasks[1:]:
        peft_model.load_adapter(str(adapters[task]), adapter_name=task, is_trainable=False, torch_device=str(device))
    from peft import get_peft_model_state_dict

    for task, path in adapters.items():
        held = set(get_peft_model_state_dict(peft_model, adapter_name=task))
        with safe_open(str(path / ADAPTER_WEIGHTS), framework="pt") as weights:
            lost = sorted(set(weights.keys()) - held)
        if lost:
            raise ModelFolderError(
                f"{path}: {len(lost)} adapter tensors match no layer of the base model (first: {lost[0]}); "
                "was the adapter trained on another model class (e.g. *ForCausalLM vs the base model)?"
            )
    log.info("LoRA task adapters (unmerged, chosen per row): %s", tasks)
    return peft_model.eval()
