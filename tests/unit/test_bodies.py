"""Request bodies in the HTTP front (runtime/bodies.py): small ones in memory, big ones in a temporary file,
and the WSGI environ built from either."""

import io

from inference.runtime.bodies import BodyBuffer, SpooledBody, close_body
from inference.runtime.limits import FrontLimits
from inference.runtime.wsgi_call import HttpRequest, environ_for


def request_with(body: bytes | SpooledBody) -> HttpRequest:
    return HttpRequest("POST", "/invocations", [("content-type", "text/csv")], body, ("1.2.3.4", 5), ("h", 80))


def test_a_body_within_the_spool_size_stays_in_memory():
    buffer = BodyBuffer(spool_bytes=10)
    for chunk in (b"abc", b"defg", b"hij"):
        buffer.add(chunk)
    assert buffer.finish() == b"abcdefghij" and buffer.size == 10


def test_a_body_past_the_spool_size_goes_to_a_file_whole_and_in_order():
    buffer = BodyBuffer(spool_bytes=4)
    for chunk in (b"abc", b"defg", b"hij"):
        buffer.add(chunk)
    body = buffer.finish()
    assert isinstance(body, SpooledBody) and body.size == 10
    environ = environ_for(request_with(body))
    assert environ["CONTENT_LENGTH"] == "10" and environ["wsgi.input"].read() == b"abcdefghij"
    close_body(body)
    assert body.file.closed


def test_a_refused_body_discards_its_file():
    buffer = BodyBuffer(spool_bytes=1)
    buffer.add(b"abc")
    file = buffer._file
    buffer.discard()
    assert file is not None and file.closed


def test_an_in_memory_body_reads_as_before():
    environ = environ_for(request_with(b"a,b"))
    assert isinstance(environ["wsgi.input"], io.BytesIO) and environ["CONTENT_LENGTH"] == "3"
    close_body(b"a,b")  # nothing to close


def test_a_pipelined_next_request_is_buffered_only_up_to_the_spool_size():
    """While a request runs, bytes of the next one are read ahead; with a 1 GiB body limit not up to 1 GiB."""
    small = FrontLimits(max_body_bytes=1000, threads=1, max_waiting=1)
    big = FrontLimits(max_body_bytes=2**30, threads=1, max_waiting=1)
    assert small.max_read_ahead_bytes == small.max_header_bytes + 1000
    assert big.max_read_ahead_bytes == big.max_header_bytes + big.spool_bytes
