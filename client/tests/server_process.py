"""The real server as a subprocess, for client tests (here and in the main suite's tests/client).

The client's own venv has no server: ``EMBEDDING_SERVER_PYTHON`` names the interpreter that runs
``python -m inference`` from the repository checkout (default: this interpreter, as in the main suite).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_PYTHON = os.environ.get("EMBEDDING_SERVER_PYTHON") or sys.executable
START_DEADLINE_S = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(**extra: str) -> dict[str, str]:
    """This process's environment without service settings, plus ``extra``."""
    prefixes = ("EMB_", "SAGEMAKER_", "MODEL_DIR", "AZUREML")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(prefixes)}, **extra}


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m inference`` on a free port and wait for /ping 200 (deadline 60 s).

    Retried on a new port if the process exits early (another process may take the free port first).
    """
    failures = []
    for _ in range(3):
        port = _free_port()
        proc = subprocess.Popen(
            [SERVER_PYTHON, "-m", "inference", "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO_ROOT,
        )  # fmt: skip
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + START_DEADLINE_S
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    if requests.get(f"{url}/ping", timeout=1).status_code == 200:
                        return proc, url
                except (requests.ConnectionError, requests.Timeout):  # not listening yet, or busy loading
                    pass
                time.sleep(0.05)  # readiness polling interval (the loop checks /ping), not synchronisation
        except BaseException:
            proc.kill()  # no orphaned server, whatever stopped the wait
            proc.wait()
            raise
        proc.kill()
        failures.append(proc.communicate()[0][-2000:])
    raise RuntimeError("the server did not start:\n" + "\n---\n".join(failures))


def server_python(code: str, *args: str) -> str:
    """Run ``code`` with the server's interpreter in the repository checkout (torch, transformers and
    sentence-transformers live there, not in the client's venv); its stdout."""
    done = subprocess.run([SERVER_PYTHON, "-c", code, *args], capture_output=True, text=True, cwd=REPO_ROOT,
                          env=server_env(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"), timeout=300)  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"server python failed:\n{done.stderr[-3000:]}")
    return done.stdout


BUILD_RERANKER = """
import sys
from pathlib import Path
from typing import Any
from tests.tiny_rerankers import build_tiny_bert_reranker
build_tiny_bert_reranker(Path(sys.argv[1]))
"""

CROSS_ENCODER_PREDICT = """
import json, sys
import torch
from sentence_transformers import CrossEncoder
folder, pairs = sys.argv[1], json.loads(sys.argv[2])
model = CrossEncoder(folder, device="cpu")
scores = model.predict(pairs, batch_size=4)
logits = model.predict(pairs, batch_size=4, activation_fn=torch.nn.Identity())
print(json.dumps({"scores": [float(x) for x in scores], "logits": [float(x) for x in logits]}))
"""


def build_tiny_reranker(folder: Path) -> Path:
    """The main suite's tiny random BERT cross-encoder (``tests/tiny_rerankers.py``), saved in ``folder``."""
    server_python(BUILD_RERANKER, str(folder))
    return folder


def cross_encoder_predict(folder: Path, query: str, documents: list[str]) -> dict[str, list[float]]:
    """sentence-transformers ``CrossEncoder.predict`` on ``folder``: ``scores`` (activated) and ``logits``."""
    pairs = [[query, document] for document in documents]
    result: dict[str, list[float]] = json.loads(server_python(CROSS_ENCODER_PREDICT, str(folder), json.dumps(pairs)))
    return result


BUILD_TINY = """
import sys
from pathlib import Path
from typing import Any
from tests.tiny_classifiers import build_multi_label_classifier
from tests.tiny_colbert import build_pylate_colbert
from tests.tiny_sparse import build_tiny_splade
folder = Path(sys.argv[2])
if sys.argv[1] == "colbert":
    build_pylate_colbert(folder, matryoshka=[16, 8])
elif sys.argv[1] == "sparse":
    build_tiny_splade(folder, prompts={"query": "query: "})
else:
    build_multi_label_classifier(folder)
"""

MULTIVECTOR_ENCODE = """
import json, sys
from sentence_transformers import MultiVectorEncoder
folder, texts = sys.argv[1], json.loads(sys.argv[2])
model = MultiVectorEncoder(folder, device="cpu")
out = {}
for side, encode in (("document", model.encode_document), ("query", model.encode_query)):
    out[side] = [vectors.tolist() for vectors in encode(texts, convert_to_numpy=True)]
print(json.dumps(out))
"""

SPARSE_ENCODE = """
import json, sys
from sentence_transformers import SparseEncoder
folder, texts, prompt_name = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] or None
model = SparseEncoder(folder, device="cpu")
out = []
for vector in model.encode(texts, prompt_name=prompt_name, convert_to_tensor=True):
    dense = vector.to_dense() if vector.is_sparse else vector
    indices = dense.nonzero().flatten()
    out.append({"indices": indices.tolist(), "values": dense[indices].tolist()})
print(json.dumps(out))
"""

TOKENIZER_IDS = """
import json, sys
from transformers import AutoTokenizer
from inference.model_dir import embedded_model_dir
tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir())
texts = json.loads(sys.argv[1])
print(json.dumps({"with": tokenizer(texts)["input_ids"],
                  "without": tokenizer(texts, add_special_tokens=False)["input_ids"]}))
"""


def build_tiny_model(kind: str, folder: Path) -> Path:
    """The main suite's tiny random late-interaction model (``kind="colbert"``: ``tests/tiny_colbert.py``'s PyLate
    layout, Matryoshka widths 16 and 8), multi-label classifier (``tests/tiny_classifiers.py``) or SPLADE model
    (``kind="sparse"``: ``tests/tiny_sparse.py``, with a ``query`` prompt) in ``folder``."""
    server_python(BUILD_TINY, kind, str(folder))
    return folder


def multivector_encode(folder: Path, texts: list[str]) -> dict[str, list[list[list[float]]]]:
    """Sentence Transformers' ``MultiVectorEncoder.encode_document`` / ``encode_query`` on ``folder``."""
    result: dict[str, list[list[list[float]]]] = json.loads(server_python(MULTIVECTOR_ENCODE, str(folder),
                                                                            json.dumps(texts)))  # fmt: skip
    return result


def sparse_encode(folder: Path, texts: list[str], prompt_name: str | None = None) -> list[dict[str, list[Any]]]:
    """Sentence Transformers' ``SparseEncoder.encode`` on ``folder``: per text its nonzero ``indices`` and
    ``values``."""
    result: list[dict[str, list[Any]]] = json.loads(server_python(SPARSE_ENCODE, str(folder), json.dumps(texts),
                                                                   prompt_name or ""))  # fmt: skip
    return result


def tokenizer_ids(texts: list[str]) -> dict[str, list[list[int]]]:
    """``AutoTokenizer`` of the embedded all-MiniLM-L6-v2: the ids of ``texts`` with and without special tokens."""
    result: dict[str, list[list[int]]] = json.loads(server_python(TOKENIZER_IDS, json.dumps(texts)))
    return result
