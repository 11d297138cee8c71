"""Other architectures load through the same code: tiny random models built here, compared to transformers."""

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from inference.core.types import TextInput
from inference.endpoints.embeddings.types import EmbedRequest
from inference.errors import InvalidInputError
from inference.handlers import load_handler
from inference.handlers.st_config import ModelFolderError
from tests.conftest import loaded_service, make_settings


def reference_embeddings(folder, texts, pooling):
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    if pooling == "cls":
        return hidden[:, 0].numpy()
    mask = batch["attention_mask"].unsqueeze(-1).float()
    return ((hidden * mask).sum(1) / mask.sum(1)).numpy()


def test_tiny_xlm_roberta_mean_pooling_matches_transformers(tiny_xlmr_dir):
    handler = load_handler(make_settings(model_dir=tiny_xlmr_dir, device="cpu"))
    texts = ["hello world", "bonjour le monde and the world", "hola"]
    ours = handler.forward(handler.tokenize(texts, None, True), None)
    np.testing.assert_allclose(ours, reference_embeddings(tiny_xlmr_dir, texts, "mean"), atol=1e-5)
    # RoBERTa positions start after padding_idx: 34 position slots leave 32 tokens.
    assert handler.info.max_length == 32 and handler.info.dimensions == 32


def test_sentence_transformers_metadata_selects_cls_pooling_and_prompts(tiny_st_bert_dir):
    handler = load_handler(make_settings(model_dir=tiny_st_bert_dir, device="cpu"))
    assert (handler.info.pooling, handler.info.max_length, handler.info.tasks) == ("cls", 16, ("query",))
    [with_prompt] = handler.tokenize(["hello world"], "query", True)
    [plain] = handler.tokenize(["query : hello world"], None, True)
    assert with_prompt == plain
    ours = handler.forward([plain], None)
    np.testing.assert_allclose(ours, reference_embeddings(tiny_st_bert_dir, ["query : hello world"], "cls"), atol=1e-5)


def test_unknown_task_lists_the_valid_ones(tiny_st_bert_dir):
    service = loaded_service(make_settings(model_dir=tiny_st_bert_dir, device="cpu", warmup=False), load_handler)
    with pytest.raises(InvalidInputError, match="valid tasks: query"):
        service.embed(EmbedRequest(inputs=(TextInput("hello"),), task="passage"))


def test_pickle_weights_are_refused(tmp_path, tiny_xlmr_dir):
    folder = tmp_path / "pickled"
    folder.mkdir()
    for f in tiny_xlmr_dir.iterdir():
        if f.suffix != ".safetensors":
            (folder / f.name).write_bytes(f.read_bytes())
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ModelFolderError, match="safetensors"):
        load_handler(make_settings(model_dir=folder, device="cpu"))
