"""Big bodies in the HTTP front (front.py) without big memory: a request body past ``spool_bytes`` goes to a
temporary file as it arrives (SageMaker async inference sends up to 1 GB), and a response is written in slices
so that the transport never buffers a second copy of it.

A spooled body costs disk in ``TMPDIR`` (the file is unlinked at once and closed when its request is answered),
not memory; what the app then does with it is the app's business (Flask's ``get_data`` reads it whole).
Writes to the file are synchronous in the event loop: 64 KiB at a time to the page cache.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import tempfile
import time
from typing import BinaryIO

from ..errors import InsufficientStorageError, OverloadedError

WRITE_SLICE = 1 << 20  # bytes handed to the transport at once; it holds at most this much beyond the response


class SpooledBody:
    """A complete request body in a temporary file, read from its start."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.size = os.fstat(file.fileno()).st_size
        file.seek(0)

    def close(self) -> None:
        self.file.close()


class BodyBudget:
    """Bytes of request bodies one worker holds while it reads and serves them: at most ``memory_bytes`` in memory
    (all connections together; past it a body goes to a temporary file however small), at most ``disk_bytes`` in
    temporary files, and never the last ``keep_free_bytes`` of ``TMPDIR``'s file system. A body that fits neither
    is refused 503 (before it is read when its Content-Length says so); a write that finds the disk full, 507."""

    def __init__(self, memory_bytes: int, disk_bytes: int, keep_free_bytes: int = 256 * 1024 * 1024) -> None:
        self.memory_bytes, self.disk_bytes, self.keep_free_bytes = memory_bytes, disk_bytes, keep_free_bytes
        self.memory = 0
        self.disk = 0

    def take_memory(self, size: int) -> bool:
        if self.memory + size > self.memory_bytes:
            return False
        self.memory += size
        return True

    def take_disk(self, size: int) -> None:
        if self.disk + size > self.disk_bytes:
            raise OverloadedError("request bodies being received fill this worker's temporary space; retry shortly")
        self.disk += size

    def room_for(self, size: int) -> bool:
        """Whether a body of ``size`` bytes could be held now, in memory or in a temporary file."""
        if self.memory + size <= self.memory_bytes:
            return True
        return self.disk + size <= self.disk_bytes and _free_bytes() - size >= self.keep_free_bytes


def _free_bytes() -> int:
    try:
        return shutil.disk_usage(tempfile.gettempdir()).free
    except OSError:
        return 0


UNLIMITED = BodyBudget(memory_bytes=1 << 62, disk_bytes=1 << 62, keep_free_bytes=0)


class BodyBuffer:
    """A request body as it arrives: in memory up to ``spool_bytes`` (and while ``budget`` has memory left), then
    in a temporary file. ``release`` gives its bytes back to the budget once its request has been answered."""

    def __init__(self, spool_bytes: int, budget: BodyBudget = UNLIMITED) -> None:
        self._spool_bytes, self._budget = spool_bytes, budget
        self._chunks: list[bytes] = []
        self._file: BinaryIO | None = None
        self._memory = 0  # bytes charged to the budget's memory
        self._disk = 0  # bytes charged to the budget's disk
        self.size = 0

    def add(self, data: bytes) -> None:
        self.size += len(data)
        if self._file is None and (self.size > self._spool_bytes or not self._budget.take_memory(len(data))):
            self._spool()
        if self._file is None:
            self._chunks.append(data)
            self._memory += len(data)
        else:
            self._write(data)

    def _spool(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115  # closed by SpooledBody.close or release
        chunks, self._chunks = self._chunks, []
        self._budget.memory -= self._memory
        self._memory = 0
        for chunk in chunks:
            self._write(chunk)

    def _write(self, data: bytes) -> None:
        assert self._file is not None
        self._budget.take_disk(len(data))
        self._disk += len(data)
        try:
            self._file.write(data)
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise InsufficientStorageError("no space left for the request body; retry later") from None
            raise

    def finish(self) -> bytes | SpooledBody:
        if self._file is None:
            return b"".join(self._chunks)
        self._file.flush()
        return SpooledBody(self._file)

    def release(self) -> None:
        """The body's request was answered or refused: its bytes leave the budget, its file is closed."""
        self._chunks = []
        self._budget.memory -= self._memory
        self._budget.disk -= self._disk
        self._memory = self._disk = 0
        if self._file is not None:
            self._file.close()

    discard = release


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
