"""No silent drops: a field a body's schema does not define is a 400 that names it (and the closest known name),
in every accepted shape (OpenAI/Jina, Jina SageMaker and its ``parameters``, TEI, Batch Transform records,
``EMB_RECORD_OPTIONS``), while the fields real clients send stay accepted; a rerank body says why it is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
from jsonschema import Draft202012Validator

from inference.api.app import create_app
from inference.endpoints.embeddings.fields import RERANK_MESSAGE
from inference.mime import JSONLINES
from tests.conftest import make_settings

# What the clients send: the OpenAI python client, Jina's API clients, Jina's SageMaker form.
OPENAI_BODY = {"input": ["a b", "c"], "model": "m", "encoding_format": "float", "dimensions": 8, "user": "u-1"}
JINA_BODY = {"input": ["a b", "c"], "model": "m", "task": "query", "late_chunking": False,
             "embedding_type": "float", "normalized": True, "truncate": True, "dimensions": 8}
SAGEMAKER_BODY = {"data": [{"text": "a b"}, {"text": "c"}], "parameters": {k: v for k, v in JINA_BODY.items()
                                                                           if k != "input"}}


def refusal(response, kind="invalid_request_error"):
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    body = response.get_json()["error"]
    assert body["type"] == kind
    return body


def vectors(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return np.array([d["embedding"] for d in response.get_json()["data"]], dtype=np.float32)


@pytest.mark.parametrize("body", [OPENAI_BODY, JINA_BODY, SAGEMAKER_BODY], ids=["openai", "jina", "sagemaker"])
def test_every_field_real_clients_send_is_accepted_and_used(client, body):
    got = vectors(client.post("/invocations", json=body))
    assert got.shape == (2, 8)  # dimensions was read, not dropped
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": "x", "dimension": 256}, "unknown field 'dimension'; did you mean 'dimensions'?"),
        ({"input": "x", "normalize": False}, "unknown field 'normalize'; did you mean 'normalized'?"),
        ({"input": "x", "encodingformat": "float"}, "unknown field 'encodingformat'; did you mean 'encoding_format'?"),
        ({"input": "x", "return_tokens": True}, "unknown field 'return_tokens'; accepted fields: input, "),
        ({"input": "x", "data": ["y"]}, "unknown field 'data'"),
        ({"inptu": "x"}, "unknown field 'inptu'; did you mean 'input'?"),
        ({"data": ["x"], "parameter": {}}, "unknown field 'parameter'; did you mean 'parameters'?"),
        ({"data": ["x"], "parameters": {"dimension": 8}}, "unknown field 'dimension' in 'parameters'; did you mean"),
        ({"data": ["x"], "parameters": {"input": "y"}}, "unknown field 'input' in 'parameters'"),
        ({"inputs": "x", "normalized": True}, "unknown field 'normalized'; did you mean 'normalize'?"),
    ],
)
def test_an_unknown_field_is_a_400_naming_it_and_the_closest_known_name(client, body, message):
    error = refusal(client.post("/invocations", json=body))
    assert message in error["message"], error
    assert "param" not in error  # the field is no request field


def test_the_message_lists_the_accepted_fields(client):
    message = refusal(client.post("/v1/embeddings", json={"input": "x", "zzz": 1}))["message"]
    listed = message.split("accepted fields: ")[1].split(", ")
    assert listed == ["input", "model", "task", "dimensions", "normalized", "embedding_type", "encoding_format",
                      "truncate", "late_chunking", "long_input", "user", "return_multivector"]


def test_a_very_long_unknown_name_is_shortened_in_the_message(client):
    message = refusal(client.post("/invocations", json={"input": "x", "k" * 5000: 1}))["message"]
    assert len(message) < 400 and "k" * 64 + "..." in message


@pytest.mark.parametrize(
    "body",
    [
        {"query": "what is a panda?", "documents": ["a bear", "a city"]},
        {"query": "what is a panda?", "texts": ["a bear"], "truncate": True},
        {"model": "m", "query": "q", "documents": [{"text": "d"}], "top_n": 1},
        {"data": {"query": "q", "documents": ["d"]}},
    ],
)
@pytest.mark.parametrize("route", ["/invocations", "/v1/embeddings", "/embed"])
def test_a_rerank_body_says_this_container_serves_an_embedding_model(client, body, route):
    message = refusal(client.post(route, json=body), "wrong_model_kind")["message"]
    assert message == RERANK_MESSAGE
    assert "embedding model" in message and "reranker model" in message


def test_the_published_request_schemas_are_strict_and_match_the_parser(client):
    spec = client.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    for name in ("EmbeddingsRequest", "JinaSageMakerRequest", "TEIEmbedRequest"):
        assert schemas[name]["additionalProperties"] is False, name
    assert schemas["JinaSageMakerRequest"]["properties"]["parameters"]["additionalProperties"] is False

    def valid(name, body):
        return Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
                                    ).is_valid(body)

    assert valid("EmbeddingsRequest", OPENAI_BODY) and valid("EmbeddingsRequest", JINA_BODY)
    assert valid("JinaSageMakerRequest", SAGEMAKER_BODY) and valid("TEIEmbedRequest", {"inputs": ["a"]})
    assert not valid("EmbeddingsRequest", {"input": "x", "dimension": 8})
    assert not valid("TEIEmbedRequest", {"inputs": "x", "normalized": True})


def test_embed_is_described_with_tei_body_and_response(client):
    spec = client.get("/openapi.json").get_json()
    operation = spec["paths"]["/embed"]["post"]
    bodies = operation["requestBody"]["content"]["application/json"]["schema"]["anyOf"]
    assert bodies[0] == {"$ref": "#/components/schemas/TEIEmbedRequest"}
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"]
    assert {"$ref": "#/components/schemas/TEIEmbedResponse"} in answer
    response = client.post("/embed", json={"inputs": ["a b", "c"]})
    validator = Draft202012Validator({"$ref": "#/components/schemas/TEIEmbedResponse",
                                      "components": spec["components"]})
    validator.validate(response.get_json())
    assert not validator.is_valid(client.post("/embed", json={"input": ["a b"]}).get_json())
    invocations = spec["paths"]["/invocations"]["post"]
    assert "TEIEmbedRequest" not in json.dumps(invocations["requestBody"]) and "inputs" in invocations["description"]


def post_records(client, *lines):
    body = "\n".join(json.dumps(line) for line in lines).encode()
    return client.post("/invocations", data=body, content_type=JSONLINES)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"text": "a", "dimension": 8}, "line 2: unknown field 'dimension'; did you mean 'dimensions'?"),
        ({"input": "a", "text": "b"}, "line 2: unknown field 'text'"),
        ({"data": [{"text": "a"}], "parameters": {"normalize": False}}, "line 2: unknown field 'normalize' in"),
        ({"data": [{"text": "a"}], "dimensions": 8}, "line 2: unknown field 'dimensions'"),
        ({"text": "a", "image": "aGk="}, "line 2: a record holds 'text' or 'image', not both"),
    ],
)
def test_a_record_with_an_unknown_key_is_refused_naming_its_line(client, line, message):
    assert message in refusal(post_records(client, "fine", line))["message"]


def test_a_records_id_is_its_identifier_not_an_option(client):
    lines = post_records(client, {"id": 1, "text": "a b"}, {"id": "x", "input": "a b"}, "a b").get_data(as_text=True)
    embeddings = [json.loads(line)["embedding"] for line in lines.split("\n")]
    assert embeddings[0] == embeddings[1] == embeddings[2]


def test_record_defaults_apply_under_a_sagemaker_lines_own_parameters():
    """EMB_RECORD_OPTIONS reach a ``{"data", "parameters"}`` line too (they used to be dropped there)."""
    settings = make_settings(handler="fake", log_level="WARNING", record_options={"dimensions": 8})
    client = create_app(settings, load_in_background=False).test_client()
    data = [{"text": "a"}]
    response = post_records(client, {"data": data}, {"data": data, "parameters": {"dimensions": 4}},
                            {"data": data, "parameters": None})
    assert response.status_code == 200, response.get_data(as_text=True)
    sizes = [len(json.loads(line)["embedding"]) for line in response.get_data(as_text=True).split("\n")]
    assert sizes == [8, 4, 8]


@pytest.mark.parametrize(("options", "message"), [({"dimension": 8}, "did you mean 'dimensions'?"),
                                                  ({"inputs": "x"}, "unknown field 'inputs'"),
                                                  ({"parameters": {}}, "unknown field 'parameters'")])
def test_record_options_with_an_unknown_key_stop_the_server_at_start(options, message):
    settings = make_settings(handler="fake", log_level="WARNING", record_options=options)
    with pytest.raises(ValueError, match="EMB_RECORD_OPTIONS is invalid") as info:
        create_app(settings, load_in_background=False)
    assert message in str(info.value)
