"""bench/multivector.py: one ``--quick`` run end to end on CPU (the tiny PyLate-layout model, the reference in-process,
this service over HTTP on a free 127.0.0.1 port): every row measured without errors, vectors and MaxSim scores
the reference's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_end_to_end(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMB_", "SAGEMAKER_", "MODEL_DIR"))}
    env["CUDA_VISIBLE_DEVICES"] = ""  # the reference and the server both on CPU
    command = [sys.executable, "bench/multivector.py", "--quick", "--clients", "2", "--device", "cpu",
               "--out", str(tmp_path)]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "multivector-cpu-quick.json").read_text())
    [model] = report["models"]
    assert model["name"] == "tiny" and model["ceiling"]["docs_per_s"] > 0 and model["ceiling"]["pairs_per_s"] > 0
    rows = {row["kind"]: row for row in model["rows"]}
    assert set(rows) == {"base64", "float", "rerank"}
    for kind, row in rows.items():
        assert row["errors"] == 0 and row["per_s"] > 0, (kind, row)
        assert row["max_diff"] < (1e-3 if kind == "rerank" else 1e-5), (kind, row)
    table = (tmp_path / "multivector-cpu-quick.md").read_text()
    assert "| tiny | this service (HTTP) | /v1/rerank (MaxSim), 1 query + 16 documents per request | 2 |" in table
    assert "| /v1/multi-vector, 8 documents per request, embedding_type float | 2 |" in table  # under 6 MB
    assert "Hardware:" in table and "Command: `python bench/multivector.py --quick" in table
