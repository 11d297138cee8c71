import pytest

from inference.codecs.json import decode_json
from inference.codecs.negotiation import check_content_type, negotiate_accept
from inference.errors import InvalidInputError, NotAcceptableError, UnsupportedMediaTypeError


@pytest.mark.parametrize("value", ["application/json", "Application/JSON; charset=utf-8"])
def test_json_content_types_are_accepted(value):
    assert check_content_type(value) == "application/json"


@pytest.mark.parametrize("value", ["application/xml", "text/plain", "text/plain;charset=UTF-8",
                                   "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_other_content_types_are_415(value):
    """Every type a browser may send cross-site without a preflight is among them."""
    with pytest.raises(UnsupportedMediaTypeError):
        check_content_type(value)


@pytest.mark.parametrize("value", [None, "", "  "])
def test_a_missing_content_type_is_415_not_guessed(value):
    """A Blob without a type is a "simple" cross-site request with no Content-Type: never read as JSON."""
    with pytest.raises(UnsupportedMediaTypeError, match="no Content-Type"):
        check_content_type(value)


@pytest.mark.parametrize(
    "accept", [None, "", "*/*", "application/json", "text/html;q=0.5, application/*;q=0.9", "application/json;q=0.1"]
)
def test_accept_negotiation_picks_json(accept):
    assert negotiate_accept(accept) == "application/json"


@pytest.mark.parametrize("accept", ["text/html", "application/json;q=0, text/plain", "image/png"])
def test_unsatisfiable_accept_is_406(accept):
    with pytest.raises(NotAcceptableError):
        negotiate_accept(accept)


def test_malformed_json_is_400():
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        decode_json(b'{"input": ')
    with pytest.raises(InvalidInputError, match="empty"):
        decode_json(b"")
