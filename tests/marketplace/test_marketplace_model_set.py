"""A model set's root (several model folders, or a models.json manifest) is refused as a Marketplace package's model:
a package declares one kind, and its validation job and buyers' Batch Transform records cannot name a model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from marketplace_testing import MARKETPLACE

from marketplace import generate_samples as gs
from marketplace import model_package as mp


def _model(folder: Path, config: dict[str, object]) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").write_bytes(b"\0" * 8)
    return folder


@pytest.mark.parametrize("layout", ["subfolders", "manifest"])
def test_a_set_root_is_refused_with_the_reason_and_what_to_do(layout: str, tmp_path: Path, capsys) -> None:
    root = tmp_path / "set"
    _model(root / "embedder", {"model_type": "bert"})
    _model(root / "reranker", {"architectures": ["BertForSequenceClassification"]})
    if layout == "manifest":
        (root / "models.json").write_text(json.dumps({"models": [{"name": "e", "path": "embedder"}]}))
    with pytest.raises(ValueError, match="is a model set .*not one model.*one package per model"):
        mp.model_kind(root)
    with pytest.raises(ValueError, match="cannot name a model"):
        gs.sample_kind(root)
    argv = ["--config", str(MARKETPLACE / "package.example.json"), "--model-dir", str(root), "--dry-run"]
    assert mp.main(argv) == 2
    err = capsys.readouterr().err
    assert "model set" in err and ("models.json" if layout == "manifest" else "embedder, reranker") in err
    assert mp.model_kind(root / "reranker") == "rerank"  # one model of the set: its own package


def test_a_folder_without_a_model_is_still_not_a_set(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(ValueError, match="no config.json or modules.json"):
        mp.model_kind(tmp_path / "empty")
