"""Cohere's official python client (``cohere.ClientV2`` pointed at a live ``python -m inference serve``) gets the
vectors OpenAI's client gets for the same texts, int8 and uint8 included."""

from __future__ import annotations

import cohere
import numpy as np
import openai
import pytest

from inference.endpoints.embeddings.response import quantise
from tests.api.test_openai_client import TEXTS, as_array, server  # noqa: F401  (the live server fixture)


@pytest.fixture(scope="module")
def co(server):  # noqa: F811
    return cohere.ClientV2(base_url=server, api_key="unused", timeout=60)


def test_cohere_client_vectors_equal_openai_client_vectors(co, server):  # noqa: F811
    ours = co.embed(model="all-MiniLM-L6-v2", texts=TEXTS, input_type="search_document",
                    embedding_types=["float", "int8", "uint8", "ubinary"])  # fmt: skip
    oa = openai.OpenAI(api_key="unused", base_url=f"{server}/v1", max_retries=0, timeout=60)
    theirs = as_array(oa.embeddings.create(input=TEXTS, model="all-MiniLM-L6-v2", encoding_format="float"))
    floats = np.array(ours.embeddings.float_, dtype=np.float32)
    np.testing.assert_array_equal(floats, theirs.astype(np.float32))
    assert np.array(ours.embeddings.int8).tolist() == quantise(floats, "int8").tolist()
    assert np.array(ours.embeddings.uint8).tolist() == quantise(floats, "uint8").tolist()
    assert np.array(ours.embeddings.ubinary).tolist() == np.packbits(floats > 0, axis=1).tolist()
    assert ours.texts == TEXTS and ours.meta.billed_units.input_tokens > len(TEXTS)


def test_cohere_client_errors_name_the_field(co):
    with pytest.raises(cohere.BadRequestError) as err:
        co.embed(model="m", texts=["a"], input_type="search_query", max_tokens=5)
    assert "max_tokens" in str(err.value.body)
