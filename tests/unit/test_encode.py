import base64

import numpy as np
import orjson
from sentence_transformers.util import quantize_embeddings

from inference.codecs.json import dumps
from inference.endpoints.embeddings.response import build_response, encode_embeddings, pack_binary, pack_ubinary
from inference.endpoints.embeddings.types import EmbedResult, ResponseFormat

VECTORS = np.random.default_rng(0).standard_normal((3, 20)).astype(np.float32)


def test_base64_is_little_endian_float32():
    [first, *_] = encode_embeddings(VECTORS, ResponseFormat(("base64",)))
    decoded = np.frombuffer(base64.b64decode(first), dtype="<f4")
    np.testing.assert_array_equal(decoded, VECTORS[0])


def test_binary_and_ubinary_match_sentence_transformers_quantization():
    np.testing.assert_array_equal(pack_ubinary(VECTORS), quantize_embeddings(VECTORS, precision="ubinary"))
    np.testing.assert_array_equal(pack_binary(VECTORS), quantize_embeddings(VECTORS, precision="binary"))


def test_ubinary_bits_are_sign_bits_msb_first():
    vector = np.array([[1, -1, 1, -1, -1, -1, -1, 1, 0.5]], dtype=np.float32)
    assert pack_ubinary(vector).tolist() == [[0b10100001, 0b10000000]]
    assert pack_binary(vector).tolist() == [[0b10100001 - 128, 0]]


def test_float_json_round_trips_exact_float32_values():
    payload = orjson.loads(dumps({"e": encode_embeddings(VECTORS, ResponseFormat(("float",)))}))
    np.testing.assert_array_equal(np.array(payload["e"], dtype=np.float32), VECTORS)


def test_response_is_openai_shaped_and_dict_per_type_when_a_list_was_asked():
    fmt = ResponseFormat(("float", "ubinary"), as_dict=True)
    body = orjson.loads(dumps(build_response(EmbedResult(VECTORS, 7, "m"), fmt)))
    assert body["object"] == "list" and body["model"] == "m"
    assert body["usage"] == {"prompt_tokens": 7, "total_tokens": 7}
    assert [d["index"] for d in body["data"]] == [0, 1, 2]
    assert body["data"][2]["embedding"]["ubinary"] == pack_ubinary(VECTORS)[2].tolist()
    np.testing.assert_allclose(body["data"][1]["embedding"]["float"], VECTORS[1])
