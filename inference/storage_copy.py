"""Copying Vertex AI's ``AIP_STORAGE_URI`` (``gs://bucket/prefix``) into a local folder, with its progress in a
JSON status file (``CopyStatus``) that the server's master and workers read.

It runs as a process of its own, started by the gunicorn master (``python -m inference.runtime.copy_process URI
DEST --status FILE``, ``runtime/staging.py``), so that the server binds its port and answers 503 while a multi-GB model
is copied: a fresh interpreter, no thread in the master that forks the workers. The process always exits 0: the
outcome is the status file's ``state`` (``done`` with the model folder, or ``failed`` with the reason), and the
failure is logged here. Imports neither torch nor transformers; Google's client only when copying.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any

from .model_dir import find_model_root

log = logging.getLogger("inference.storage_copy")  # also when run as __main__
LISTING, COPYING, DONE, FAILED = "listing", "copying", "done", "failed"
FINISHED = frozenset({DONE, FAILED})
STATUS_EVERY_S = 0.5  # the status file (what the health route reports) is rewritten at most this often
NICENESS = 5  # the copy yields the CPU to the workers booting beside it: their first 503s come at once
Report = Callable[["CopyStatus"], None]


class StorageCopyError(RuntimeError):
    """The model could not be copied from ``AIP_STORAGE_URI`` (the message says why; it is logged, never shown
    to callers)."""


@dataclass(frozen=True)
class CopyStatus:
    """Where a copy stands: what the status file holds."""

    uri: str
    state: str = LISTING
    files: int = 0
    files_total: int = 0
    bytes: int = 0
    bytes_total: int = 0
    model_dir: str | None = None  # state done: the model folder found in the copy
    error: str | None = None  # state failed: why

    def write(self, path: Path) -> None:
        """Replace ``path`` at once (a reader never sees half a file)."""
        partial = path.with_name(path.name + ".part")
        partial.write_text(json.dumps(asdict(self)), encoding="utf-8")
        os.replace(partial, path)

    @classmethod
    def read(cls, path: Path) -> CopyStatus | None:
        """The status in ``path``; None when there is none (not written yet) or it cannot be read."""
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def progress(self) -> str:
        """``12345 of 67890 bytes, 2 of 7 files`` (``listing the objects`` before the sizes are known)."""
        if self.state == LISTING:
            return "listing the objects"
        return f"{self.bytes} of {self.bytes_total} bytes, {self.files} of {self.files_total} files"


def parse_gs_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/some/prefix`` -> (``bucket``, ``some/prefix/``); ``ValueError`` for anything else."""
    bucket, _, prefix = uri.removeprefix("gs://").partition("/")
    if not uri.startswith("gs://") or not bucket:
        raise ValueError(f"AIP_STORAGE_URI={uri} is not a gs://bucket/prefix location")
    return bucket, prefix.strip("/") + "/" if prefix.strip("/") else ""


class _Counting:
    """A file object that reports every write's size (the client streams a download through ``write``)."""

    def __init__(self, file: IO[bytes], wrote: Callable[[int], None]) -> None:
        self._file, self._wrote = file, wrote

    def write(self, data: bytes) -> int:
        written = self._file.write(data)
        self._wrote(len(data))
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def copy_prefix(uri: str, dest: Path, report: Report = lambda status: None) -> CopyStatus:
    """Copy every object under the prefix into ``dest`` (emptied first) with Google's client (credentials: the
    deployment's service account; ``STORAGE_EMULATOR_HOST`` is honoured). Folder placeholders and names that would
    leave ``dest`` are skipped. ``report`` hears the status after each chunk written; the last one is returned."""
    bucket, prefix = parse_gs_uri(uri)
    from google.cloud import storage  # type: ignore[import-untyped]  # no type information

    shutil.rmtree(dest, ignore_errors=True)
    root = dest.resolve()
    status = CopyStatus(uri)
    report(status)
    blobs = []
    for blob in storage.Client(project=None).list_blobs(bucket, prefix=prefix):
        target = (dest / blob.name[len(prefix) :]).resolve()
        if not blob.name.endswith("/") and target.is_relative_to(root):
            blobs.append((blob, target))
    status = replace(status, state=COPYING, files_total=len(blobs), bytes_total=sum(b.size or 0 for b, _ in blobs))
    report(status)
    for blob, target in blobs:
        target.parent.mkdir(parents=True, exist_ok=True)

        def wrote(size: int) -> None:
            nonlocal status
            status = replace(status, bytes=status.bytes + size)
            report(status)

        with target.open("wb") as out:
            blob.download_to_file(_Counting(out, wrote))
        status = replace(status, files=status.files + 1)
        report(status)
    return status


def copy_storage_model(uri: str, dest: Path, report: Report = lambda status: None) -> CopyStatus:
    """``copy_prefix``, then the model folder in the copy: the ``done`` status naming it, or
    ``FileNotFoundError`` when the prefix holds no model (no ``config.json`` / ``modules.json``)."""
    status = copy_prefix(uri, dest, report)
    found = find_model_root(dest)  # a model folder, or a folder of several (model_set.py)
    if found is None:
        raise FileNotFoundError(f"AIP_STORAGE_URI={uri}: {status.files} object(s) copied, no config.json or "
                                "modules.json")  # fmt: skip
    return replace(status, state=DONE, model_dir=str(found))


class Reporter:
    """The copy's ``report``: rewrites the status file at most every ``STATUS_EVERY_S`` (at once for a new state or
    a file's end) and logs the progress every ``log_every_s``. ``keep_current`` (a thread) also writes what the last
    chunk left unwritten, should the download stall, and ends the copy when the server that started it is gone."""

    def __init__(self, path: Path, log_every_s: float, parent: int, clock: Callable[[], float] = time.monotonic):
        self.path, self._log_every_s, self._parent, self._clock = path, log_every_s, parent, clock
        self._written = self._logged = -float("inf")
        self._lock = threading.Lock()
        self._unwritten = False
        self.last: CopyStatus | None = None

    def __call__(self, status: CopyStatus) -> None:
        with self._lock:
            previous, self.last = self.last, status
            now = self._clock()
            file_done = previous is not None and status.files != previous.files
            if file_done or status.state != getattr(previous, "state", None) or now - self._written >= STATUS_EVERY_S:
                self._write(status, now)
            else:
                self._unwritten = True
            if status.state == COPYING and now - self._logged >= self._log_every_s:
                log.info("AIP_STORAGE_URI=%s: copying, %s", status.uri, status.progress())
                self._logged = now

    def _write(self, status: CopyStatus, now: float) -> None:
        status.write(self.path)
        self._written, self._unwritten = now, False

    def keep_current(self) -> None:
        """Every ``STATUS_EVERY_S``: write the last status if a chunk left it unwritten; exit when orphaned."""
        while os.getppid() == self._parent:
            time.sleep(STATUS_EVERY_S)
            with self._lock:
                if self._unwritten and self.last is not None:
                    self._write(self.last, self._clock())
        log.error("the server (pid %d) is gone: the copy stops", self._parent)
        os._exit(1)

    def finish(self, status: CopyStatus) -> None:
        with self._lock:
            self.last = status
            self._write(status, self._clock())
