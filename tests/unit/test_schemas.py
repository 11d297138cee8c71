import pytest

from inference.core.types import ImageInput, TextInput
from inference.endpoints.embeddings.schema import parse_embeddings_request
from inference.errors import InvalidInputError


def parse(body, max_inputs=2048):
    return parse_embeddings_request(body, max_inputs=max_inputs).request


def parse_format(body):
    return parse_embeddings_request(body, max_inputs=2048).format


def test_string_input_becomes_one_text_item_with_defaults():
    req, fmt = parse({"input": "hello"}), parse_format({"input": "hello"})
    assert req.inputs == (TextInput("hello"),)
    assert (req.normalized, req.truncate, fmt.types, fmt.as_dict) == (True, True, ("float",), False)


def test_mixed_list_of_strings_text_and_image_objects():
    req = parse({"input": ["a", {"text": "b"}, {"image": "aGk="}], "task": "retrieval.query", "dimensions": 8})
    assert req.inputs == (TextInput("a"), TextInput("b"), ImageInput("aGk="))
    assert (req.task, req.dimensions) == ("retrieval.query", 8)


def test_jina_sagemaker_format_merges_parameters():
    params = {"embedding_type": "ubinary", "normalized": False}
    body = {"data": [{"text": "x"}, {"text": "y"}], "parameters": params}
    req = parse(body)
    assert req.inputs == (TextInput("x"), TextInput("y"))
    assert parse_format(body).types == ("ubinary",) and req.normalized is False


def test_embedding_type_list_is_deduplicated_and_marks_dict_output():
    fmt = parse_format({"input": "x", "embedding_type": ["float", "binary", "float"]})
    assert fmt.types == ("float", "binary") and fmt.as_dict is True


def test_openai_encoding_format_is_accepted():
    assert parse_format({"input": "x", "encoding_format": "base64"}).types == ("base64",)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"input": []}, "must not be empty"),
        ({"input": ["ok", "  "]}, "input[1] is empty"),
        ({"input": 5}, "input"),
        ({"input": ["a", 3]}, "input"),
        ({"input": "a", "dimensions": 0}, "dimensions"),
        ({"input": "a", "dimensions": "8"}, "dimensions"),
        ({"input": "a", "normalized": "yes"}, "normalized"),
        ({"input": "a", "embedding_type": "int4"}, "embedding_type"),
        ({"input": "a", "embedding_type": []}, "embedding_type"),
        ({"nothing": 1}, "input"),
        ([1, 2], "JSON object"),
        ({"input": [{"text": "a", "extra": 1}]}, "input"),
    ],
)
def test_bad_bodies_raise_invalid_input_with_a_useful_message(body, fragment):
    with pytest.raises(InvalidInputError) as info:
        parse(body)
    assert fragment in info.value.message
    assert info.value.status == 400


def test_too_many_inputs_names_the_limit():
    with pytest.raises(InvalidInputError, match="3 > limit 2"):
        parse({"input": ["a", "b", "c"]}, max_inputs=2)
