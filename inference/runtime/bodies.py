"""Big bodies in the HTTP front (front.py) without big memory: a request body past ``spool_bytes`` goes to a
temporary file as it arrives (SageMaker async inference sends up to 1 GB), and a response is written in slices
so that the transport never buffers a second copy of it.

A spooled body costs disk in ``TMPDIR`` (the file is unlinked at once and closed when its request is answered),
not memory; what the app then does with it is the app's business (Flask's ``get_data`` reads it whole).
Writes to the file are synchronous in the event loop: 64 KiB at a time to the page cache.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from typing import BinaryIO

WRITE_SLICE = 1 << 20  # bytes handed to the transport at once; it holds at most this much beyond the response


class SpooledBody:
    """A complete request body in a temporary file, read from its start."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.size = os.fstat(file.fileno()).st_size
        file.seek(0)

    def close(self) -> None:
        self.file.close()


class BodyBuffer:
    """A request body as it arrives: in memory up to ``spool_bytes``, then in a temporary file."""

    def __init__(self, spool_bytes: int) -> None:
        self._spool_bytes = spool_bytes
        self._chunks: list[bytes] = []
        self._file: BinaryIO | None = None
        self.size = 0

    def add(self, data: bytes) -> None:
        self.size += len(data)
        if self._file is None and self.size > self._spool_bytes:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115  # closed by SpooledBody.close or discard
            self._file.writelines(self._chunks)
            self._chunks = []
        if self._file is not None:
            self._file.write(data)
        else:
            self._chunks.append(data)

    def finish(self) -> bytes | SpooledBody:
        if self._file is None:
            return b"".join(self._chunks)
        self._file.flush()
        return SpooledBody(self._file)

    def discard(self) -> None:
        self._chunks = []
        if self._file is not None:
            self._file.close()


def close_body(body: bytes | SpooledBody) -> None:
    if isinstance(body, SpooledBody):
        body.close()


async def write_all(writer: asyncio.StreamWriter, parts: list[bytes], timeout_s: float) -> None:
    """Write ``parts`` within ``timeout_s``, ``WRITE_SLICE`` at a time (the parts are not copied)."""
    until = time.monotonic() + timeout_s
    for part in parts:
        view = memoryview(part)
        for start in range(0, len(view), WRITE_SLICE):
            writer.write(view[start : start + WRITE_SLICE])
            await asyncio.wait_for(writer.drain(), max(0.0, until - time.monotonic()))
