"""transformers' built-in ``jina_embeddings_v3`` folder: no task adapters, so auto-detection refuses it with a message
instead of serving it as a plain text model (wrong vectors); ``EMB_HANDLER=text`` serves the bare encoder on purpose."""

from __future__ import annotations

import shutil

import pytest
from transformers import JinaEmbeddingsV3Config, JinaEmbeddingsV3Model

from inference.handlers import load_handler, model_family
from inference.handlers.st_config import ModelFolderError
from inference.model_dir import embedded_model_dir
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("jina-native")
    config = JinaEmbeddingsV3Config(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                    intermediate_size=37, max_position_embeddings=64)  # fmt: skip
    JinaEmbeddingsV3Model(config).save_pretrained(path)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (embedded_model_dir() / name).is_file():
            shutil.copy(embedded_model_dir() / name, path / name)
    return path


def test_auto_detection_refuses_it_with_the_reason(folder):
    assert model_family(folder) == "jina-v3-native"
    settings = make_settings(model_dir=folder, handler="auto", device="cpu", log_level="WARNING")
    with pytest.raises(ModelFolderError, match="task LoRA adapters.*EMB_HANDLER=text"):
        load_handler(settings)


def test_handler_text_serves_the_bare_encoder_on_purpose(folder):
    settings = make_settings(model_dir=folder, handler="text", device="cpu", log_level="WARNING")
    handler = load_handler(settings)
    assert handler.info.kind == "embed" and handler.info.dimensions == 32
    assert handler.forward(handler.tokenize(["hello world"], None, True), None).shape == (1, 32)
