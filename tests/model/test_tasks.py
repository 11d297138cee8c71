"""Task adapters (jina-embeddings-v3 style) from model-specific code, loaded only when allowed."""

import json

import numpy as np
import pytest

from inference.handlers import load_handler
from tests.conftest import make_settings
from tests.tiny_models import build_tiny_lora_model


@pytest.fixture(scope="module")
def lora_dir(tmp_path_factory):
    return build_tiny_lora_model(tmp_path_factory.mktemp("lora") / "tiny-lora")


def test_model_code_is_refused_unless_trust_remote_code(lora_dir):
    assert json.loads((lora_dir / "config.json").read_text())["auto_map"]
    # transformers refuses an auto_map model unless trust_remote_code=True; any other error is a different bug.
    with pytest.raises(ValueError, match="trust_remote_code=True") as refused:
        load_handler(make_settings(model_dir=lora_dir, device="cpu"))
    assert type(refused.value) is ValueError and "contains custom code" in str(refused.value)


def test_task_selects_the_adapter_and_the_instruction(lora_dir):
    handler = load_handler(make_settings(model_dir=lora_dir, device="cpu", trust_remote_code=True))
    assert handler.info.tasks == ("retrieval.query", "retrieval.passage")
    [query_ids] = handler.tokenize(["world"], "retrieval.query", True)
    [plain_ids] = handler.tokenize(["hello world"], None, True)
    assert query_ids == plain_ids  # the query instruction "hello " was prepended
    [passage_ids] = handler.tokenize(["world"], "retrieval.passage", True)
    base = handler.forward([passage_ids], None)
    passage = handler.forward([passage_ids], "retrieval.passage")
    bias = handler._model.task_bias.detach().numpy()  # noqa: SLF001 - the reference needs the adapter weights
    np.testing.assert_allclose(passage - base, bias[1][None], atol=1e-5)
    mixed = handler.forward([passage_ids, passage_ids], "retrieval.query")
    np.testing.assert_allclose(mixed[0] - base[0], bias[0], atol=1e-5)
