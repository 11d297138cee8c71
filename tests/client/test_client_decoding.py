"""The client's decoder against the server's encoder: both sides of the wire, in one process."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedding_client import decode_embeddings
from inference.codecs.json import dumps
from inference.endpoints.embeddings.response import encode_embeddings
from inference.endpoints.embeddings.types import ResponseFormat


@pytest.mark.parametrize("kinds", [("float",), ("base64",), ("binary",), ("ubinary",), ("float", "binary", "base64")])
def test_decoding_inverts_the_servers_encoder(kinds: tuple[str, ...]) -> None:
    vectors = np.random.default_rng(0).standard_normal((5, 24)).astype(np.float32)
    encoded = encode_embeddings(vectors, ResponseFormat(kinds, as_dict=True))
    entries = [{"index": i, "embedding": e} for i, e in enumerate(encoded)]
    wire = json.loads(dumps(entries))  # exactly what the server writes
    wire.reverse()  # the client orders by "index", not by position
    decoded = decode_embeddings(wire, kinds, as_dict=True)
    for kind in kinds:
        if kind in ("float", "base64"):
            np.testing.assert_array_equal(decoded[kind], vectors)
        else:
            packed = np.packbits(vectors > 0, axis=1)
            expected = packed if kind == "ubinary" else (packed.astype(np.int16) - 128).astype(np.int8)
            assert decoded[kind].dtype == expected.dtype
            np.testing.assert_array_equal(decoded[kind], expected)
