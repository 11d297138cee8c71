"""Request bodies in the HTTP front (runtime/bodies.py): small ones in memory, big ones in a temporary file,
and the WSGI environ built from either."""

import io

import pytest

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


def test_bodies_share_the_workers_memory_budget_then_spool_then_are_refused():
    from inference.errors import OverloadedError
    from inference.runtime.bodies import BodyBudget

    budget = BodyBudget(memory_bytes=10, disk_bytes=12, keep_free_bytes=0)
    first, second = BodyBuffer(100, budget), BodyBuffer(100, budget)
    first.add(b"a" * 8)
    second.add(b"b" * 4)  # 12 > 10 in memory: this one goes to a file, however small
    assert (budget.memory, budget.disk) == (8, 4) and second._file is not None
    assert budget.room_for(2) and budget.room_for(8) and not budget.room_for(9)
    with pytest.raises(OverloadedError):
        second.add(b"b" * 9)  # past the disk budget too
    first.release(), second.release()
    assert (budget.memory, budget.disk) == (0, 0) and second._file.closed


def test_a_full_disk_is_a_507_not_an_unhandled_error(monkeypatch):
    import errno
    import tempfile

    from inference.errors import InsufficientStorageError

    class FullDisk(io.BytesIO):
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", lambda: FullDisk())
    buffer = BodyBuffer(spool_bytes=1)
    with pytest.raises(InsufficientStorageError) as full:
        buffer.add(b"abc")
    assert full.value.status == 507 and full.value.envelope()["error"]["type"] == "insufficient_storage"
