"""Long inputs up to a v3-class 8192-token limit, with SDPA attention and token-budget batches."""

import numpy as np
import pytest
import torch
from transformers import AutoModel

from inference.core.types import TextInput
from inference.endpoints.embeddings.types import EmbedRequest
from inference.errors import InvalidInputError
from inference.handlers import load_handler
from tests.conftest import loaded_service, make_settings
from tests.tiny_models import WORDS, build_tiny_xlmr


@pytest.fixture(scope="module")
def long_dir(tmp_path_factory):
    return build_tiny_xlmr(tmp_path_factory.mktemp("long") / "tiny-xlmr-8k", max_positions=8194)


def long_text(n_words: int) -> str:
    return " ".join(WORDS[i % len(WORDS)] for i in range(n_words))


def test_8k_input_embeds_like_transformers_with_sdpa(long_dir):
    handler = load_handler(make_settings(model_dir=long_dir, device="cpu"))
    assert handler.info.max_length == 8192
    assert handler._model.config._attn_implementation == "sdpa"  # noqa: SLF001 - memory-efficient attention
    [ids] = handler.tokenize([long_text(8000)], None, truncate=False)
    assert len(ids) == 8002
    ours = handler.forward([ids], None)
    reference = AutoModel.from_pretrained(long_dir).eval()
    with torch.no_grad():
        expected = reference(input_ids=torch.tensor([ids])).last_hidden_state.mean(1).numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-4)


def test_service_truncates_or_refuses_beyond_8192(long_dir):
    settings = make_settings(model_dir=long_dir, device="cpu", warmup=False, max_batch_tokens=16384)
    service = loaded_service(settings, load_handler)
    inputs = (TextInput(long_text(9000)), TextInput("hello"), TextInput(long_text(8100)))
    result = service.embed(EmbedRequest(inputs=inputs))
    assert result.prompt_tokens == 8192 + 3 + 8102
    with pytest.raises(InvalidInputError, match=r"input\[0\] has 9002 tokens"):
        service.embed(EmbedRequest(inputs=inputs, truncate=False))
