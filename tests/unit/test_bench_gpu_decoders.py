"""bench/gpu_decoders.py runs end to end (the CPU smoke run a GPU session's run shares its code with), and its
table's parity columns hold: the service's decoder embedder and reranker equal their references."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_smoke_run_prints_both_models_with_parity(tmp_path):
    out = tmp_path / "table.md"
    run = subprocess.run([sys.executable, "-m", "bench.gpu_decoders", "--device", "cpu", "--quick", "--repeats", "1",
                          "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [line for line in out.read_text().splitlines() if line.startswith(("| embedder", "| reranker"))]
    assert [row.split("|")[1].strip().split(",")[0] for row in rows] == ["embedder"] * 2 + ["reranker"] * 2
    for row in rows:
        assert float(re.findall(r"(\d\.\de[-+]\d+) \|$", row)[0]) < 1e-4, row
