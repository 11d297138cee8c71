"""Worker RSS and tokens/s over random-shape forward passes, per glibc heap policy (one thread, in process).

    python bench/heap_growth.py default 300        # glibc's dynamic mmap threshold: RSS grows
    python bench/heap_growth.py mmap131072 300     # fixed 128 KiB mmap threshold: flat RSS, slower
    python bench/heap_growth.py trimmer 300        # inference/heap.py (the service's policy)

Run two policies side by side (one per core) to compare them under the same machine load.
"""

from __future__ import annotations

import ctypes
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    mode, passes = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 300
    if mode.startswith("mmap"):
        ctypes.CDLL("libc.so.6").mallopt(-3, int(mode[4:]))  # M_MMAP_THRESHOLD
    from inference.core.heap import HeapTrimmer
    from inference.handlers.text import TextEmbeddingHandler
    from inference.model_dir import embedded_model_dir
    from inference.settings import Settings

    handler = TextEmbeddingHandler(embedded_model_dir(), Settings(device="cpu", torch_threads=1))
    trimmer = HeapTrimmer() if mode == "trimmer" else None
    rng = random.Random(0)
    handler.forward([[101, *([2000] * 30), 102]] * 4, None)
    start_rss, started, tokens = rss_mib(), time.perf_counter(), 0
    for _ in range(passes):
        width = rng.randint(8, 256)
        batch = [
            [101, *(rng.randint(1000, 20000) for _ in range(rng.randint(max(2, width // 2), width) - 2)), 102]
            for _ in range(rng.randint(1, 16))
        ]
        tokens += sum(map(len, batch))
        handler.forward(batch, None)
        if trimmer is not None:
            trimmer.after_forward()
    seconds = time.perf_counter() - started
    print(f"{mode}: {tokens / seconds:.0f} tokens/s, RSS {start_rss:.0f} -> {rss_mib():.0f} MiB over {passes} passes")


if __name__ == "__main__":
    main()
