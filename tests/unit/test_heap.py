"""HeapTrimmer returns free heap blocks to the OS once more than its limit has piled up."""

from __future__ import annotations

import ctypes

import pytest

from inference.core.heap import HeapTrimmer

MIB = 1024**2
BLOCK = 64 * 1024  # below glibc's initial mmap threshold: these come from the heap


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def libc():
    trimmer = HeapTrimmer()
    if not trimmer.active:
        pytest.skip("needs glibc >= 2.33 (mallinfo2)")
    lib = ctypes.CDLL("libc.so.6")
    lib.malloc.restype = ctypes.c_void_p
    lib.free.argtypes = [ctypes.c_void_p]
    return lib


def _fragment(libc, total: int) -> ctypes.c_void_p:
    """Allocate ``total`` bytes in heap blocks, touch them, free all but a pin above them (no top trim)."""
    blocks = [libc.malloc(BLOCK) for _ in range(total // BLOCK)]
    for block in blocks:
        ctypes.memset(block, 1, BLOCK)
    pin = libc.malloc(BLOCK)
    for block in blocks:
        libc.free(block)
    return pin


def test_trims_when_free_blocks_exceed_the_limit(libc):
    trimmer = HeapTrimmer(max_free_bytes=64 * MIB)
    pin = _fragment(libc, 192 * MIB)
    try:
        assert trimmer.free_bytes() > 128 * MIB
        before = rss_mib()
        trimmer.after_forward()
        assert trimmer.trims == 1
        assert before - rss_mib() > 100, (before, rss_mib())
    finally:
        libc.free(pin)


def test_leaves_the_heap_alone_below_the_limit(libc):
    trimmer = HeapTrimmer(max_free_bytes=1024 * MIB)
    pin = _fragment(libc, 32 * MIB)
    try:
        trimmer.after_forward()
        assert trimmer.trims == 0
    finally:
        libc.free(pin)
