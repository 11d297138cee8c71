"""A model set's root as the deploy tools read it (several model folders, or a ``models.json`` manifest:
docs/models/model-sets.md), by ``container/pack_model.py``, which reads it with the server's own rule
(``inference.model_set.served_models``); loaded from the checkout, as ``infra.sagemaker.artifacts`` loads it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

PACKER = Path(__file__).resolve().parents[1] / "container" / "pack_model.py"


def packer() -> ModuleType:
    """``container/pack_model.py`` as a module."""
    spec = importlib.util.spec_from_file_location("pack_model", PACKER)
    if spec is None or spec.loader is None or not PACKER.is_file():
        raise FileNotFoundError(f"{PACKER} not found")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def set_models(folder: Path) -> list[tuple[str, str]]:
    """The models (name, kind) of the set whose root is the local ``folder``; ``[]`` for a model folder, a file, or
    a path that is not local. ``ValueError`` naming the problem for a set the server would refuse, or a model of it
    that would not load (no safetensors)."""
    if not folder.is_dir():
        return []
    pack = packer()
    try:
        if not pack.set_models(folder.resolve()):
            return []
        return [(model.name, model.kind) for model in pack.collect(folder, allow_links_outside=True)[1]]
    except SystemExit as err:  # the packer is also a script; its checks exit with the message
        raise ValueError(str(err)) from None
