"""Per-request task LoRA adapters (handlers/lora.py) on a tiny random Qwen3 with four PEFT adapters
(tests/tiny_lora.py): each task's vectors equal PEFT + sentence-transformers' with that adapter, rows of the four
tasks in one batch equal single-task requests row by row, the adapters stay unmerged, no task is the base model,
and folders PEFT adapters cannot be served from are refused with a reason."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file
from sentence_transformers import SentenceTransformer

from inference.core.engine import ModelEngine
from inference.core.forward import TEXT
from inference.core.task_rows import TaskRow
from inference.handlers import load_handler, model_family
from inference.handlers.lora import find_adapters
from inference.handlers.st_config import ModelFolderError
from tests.conftest import make_settings
from tests.tiny_lora import LORA_TASKS, PROMPTS, build_tiny_lora_qwen3

TEXTS = ["hello world", "a much longer sentence about search engines, their vectors and ranks", "x"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_lora_qwen3(tmp_path_factory.mktemp("lora"))


@pytest.fixture(scope="module")
def handler(folder):
    return load_handler(make_settings(model_dir=folder, handler="auto", device="cpu", log_level="WARNING"))


def reference(folder, task):
    """sentence-transformers over the base model, with only ``task``'s adapter attached by PEFT (none: the base)."""
    model = SentenceTransformer(str(folder), device="cpu")
    if task is not None:
        model[0].model = PeftModel.from_pretrained(model[0].model, str(folder / "adapters" / task)).eval()
    return model.encode(TEXTS, prompt=PROMPTS.get(task or ""), batch_size=8)


def ours(handler, task):
    vectors = handler.forward(handler.tokenize(TEXTS, task, True), task)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_tasks_are_the_adapters(handler, folder):
    assert model_family(folder) == "text" and handler.mixes_tasks
    assert handler.info.tasks[: len(LORA_TASKS)] == tuple(sorted(LORA_TASKS)) and handler.info.pooling == "lasttoken"


@pytest.mark.parametrize("task", [*LORA_TASKS, None])
def test_each_task_equals_peft_and_sentence_transformers(handler, folder, task):
    np.testing.assert_allclose(ours(handler, task), reference(folder, task), atol=1e-5)


def test_tasks_give_different_vectors(handler):
    base = ours(handler, None)
    for task in LORA_TASKS:
        assert not np.allclose(ours(handler, task), base, atol=1e-3)


def test_a_mixed_batch_equals_single_task_requests_row_by_row(handler):
    tasks = [*LORA_TASKS, None]
    single = {task: handler.forward(handler.tokenize(TEXTS, task, True), task) for task in tasks}
    rows = [TaskRow(ids, task) for task in tasks for ids in handler.tokenize(TEXTS, task, True)]
    order = np.random.default_rng(0).permutation(len(rows))  # tasks interleaved in the batch
    mixed = handler.forward([rows[i] for i in order], None)
    expected = np.concatenate([single[task] for task in tasks])[order]
    np.testing.assert_allclose(mixed, expected, atol=1e-5)


def test_the_engine_runs_every_task_in_one_forward_pass(handler):
    calls = []
    forward = handler.forward

    def spy(batch, task):
        calls.append(sorted({str(getattr(ids, "task", task)) for ids in batch}))
        return forward(batch, task)

    engine = ModelEngine(make_settings(device="cpu", log_level="WARNING", max_batch_size=64), lambda _: handler)
    engine.load()
    rows = [TaskRow(ids, task) for task in LORA_TASKS for ids in handler.tokenize(TEXTS[:1], task, True)]
    handler.forward = spy
    try:
        vectors = engine.submit(rows, (TEXT, None))
    finally:
        del handler.forward
    assert calls == [sorted(LORA_TASKS)]
    for task, vector in zip(LORA_TASKS, vectors, strict=True):
        np.testing.assert_allclose(vector, forward(handler.tokenize(TEXTS[:1], task, True), task)[0], atol=1e-5)


def test_adapters_are_not_merged(handler, folder):
    ours(handler, "retrieval")
    saved = load_file(str(folder / "model.safetensors"))
    state = handler._model.get_base_model().state_dict()
    for name, weight in saved.items():
        loaded = state.get(name, state.get(name.replace(".weight", ".base_layer.weight")))
        assert loaded is not None and torch.equal(loaded, weight), name
    assert not any(getattr(module, "merged", False) for module in handler._model.modules())


def test_folders_without_adapters_have_none(tmp_path):
    (tmp_path / "1_Pooling").mkdir()
    assert find_adapters(tmp_path) == {}


def _adapter(tmp_path, folder, name="retrieval", **config):
    shutil.copytree(folder / "adapters" / "retrieval", tmp_path / "adapters" / name)
    path = tmp_path / "adapters" / name / "adapter_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **config}))
    return tmp_path / "adapters" / name


def test_peft_save_pretrained_layout_is_found(tmp_path, folder):
    shutil.copytree(folder / "adapters" / "clustering", tmp_path / "clustering")
    assert find_adapters(tmp_path) == {"clustering": tmp_path / "clustering"}


@pytest.mark.parametrize(("change", "reason"), [
    ({"use_dora": True}, "DoRA"),
    ({"peft_type": "IA3"}, "only LoRA"),
    ({"name": "__base__"}, "base model"),
    ({"weights": "bin"}, "safetensors"),
    ({"root": True}, "names no task"),
])  # fmt: skip
def test_unservable_adapters_are_refused(tmp_path, folder, change, reason):
    config = {key: value for key, value in change.items() if key in ("use_dora", "peft_type")}
    adapter = _adapter(tmp_path, folder, change.get("name", "retrieval"), **config)
    if "weights" in change:
        (adapter / "adapter_model.safetensors").rename(adapter / "adapter_model.bin")
    if "root" in change:
        shutil.copy(adapter / "adapter_config.json", tmp_path / "adapter_config.json")
    with pytest.raises(ModelFolderError, match=reason):
        find_adapters(tmp_path)


def test_adapters_for_another_model_class_are_refused(tmp_path, folder):
    shutil.copytree(folder, tmp_path / "model")
    weights = tmp_path / "model" / "adapters" / "retrieval" / "adapter_model.safetensors"
    from safetensors.torch import save_file

    save_file({name.replace("base_model.model.", "base_model.model.model."): tensor
               for name, tensor in load_file(str(weights)).items()}, str(weights))  # fmt: skip
    with pytest.raises(ModelFolderError, match="match no layer"):
        load_handler(make_settings(model_dir=tmp_path / "model", handler="auto", device="cpu", log_level="WARNING"))
