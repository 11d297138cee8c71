"""The documentation's executable examples run, and say what the code does (the convention: tests/docs/docs_pages.py
and docs/architecture/development.md).

Each marked block runs in its own scratch folder whose entries link to the checkout's top level (so a block may
write files, e.g. `cp ... sagemaker.json`, without touching the checkout), with the venv first on PATH, fake AWS
credentials that reach nothing, and the placeholders the guides use (`$IMAGE`, `$CPU_IMAGE`, `$ROLE`). Blocks
marked `server` run against a real server (the embedded model on CPU) on a free port: their `localhost:8080`
and `127.0.0.1:8080` are rewritten to it.
"""

from __future__ import annotations

import base64
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.docs.docs_pages import REPO, Example, all_examples
from tests.reliability.harness import Server, clean_env
from tests.tiny_classifiers import build_multi_label_classifier
from tests.tiny_colbert import build_pylate_colbert
from tests.tiny_rerankers import build_tiny_bert_reranker
from tests.tiny_sparse import build_tiny_splade

EXAMPLES = all_examples()
MIN_EXAMPLES = 15  # the guides' executed blocks; fewer means markers were lost
PLACEHOLDERS = {
    "IMAGE": "123456789012.dkr.ecr.us-east-1.amazonaws.com/jina-embedding-serving:0.1.0",
    "CPU_IMAGE": "123456789012.dkr.ecr.us-east-1.amazonaws.com/jina-embedding-serving:0.1.0-cpu",
    "ROLE": "arn:aws:iam::123456789012:role/SageMakerEmbeddingExecution",
}
LOCAL_ADDRESSES = ("localhost:8080", "127.0.0.1:8080")
FLOAT_TOLERANCE = 1e-4  # documented real output vs this machine's CPU (float32 kernels differ in the last bits)


def example_env(home: Path) -> dict[str, str]:
    """A clean serving environment plus fake AWS credentials that can reach nothing, and the guides' variables."""
    env = {k: v for k, v in clean_env().items() if not k.startswith(("AWS_", "AZURE_", "GOOGLE_", "CLOUDSDK_"))}
    return env | PLACEHOLDERS | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": str(REPO),
        "HOME": str(home),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "docs-example",
        "AWS_SECRET_ACCESS_KEY": "docs-example",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_MKDOCS_2_WARNING": "1",
    }


def scratch_checkout(folder: Path) -> Path:
    """A folder whose entries are links to the checkout's top-level entries (not .git)."""
    work = folder / "work"
    work.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in (".git", "site"):
            (work / entry.name).symlink_to(entry)
    return work


# server=<kind>: a tiny random model of that kind (its scores mean nothing; shapes and fields do), and its name.
TINY_MODELS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "rerank": (lambda folder: build_tiny_bert_reranker(folder, max_length=64), "my-reranker"),
    "colbert": (lambda folder: build_pylate_colbert(folder, matryoshka=[16, 8]), "my-colbert"),
    "classifier": (build_multi_label_classifier, "my-classifier"),
    "sparse": (build_tiny_splade, "my-splade"),
}


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory):
    """Servers by extra environment ("" = defaults; "rerank", "colbert", "classifier": a tiny random model of that
    kind, TINY_MODELS), started on first use and stopped at the end."""
    running: dict[str, Server] = {}

    def get(extra: str) -> Server:
        if extra not in running:
            if extra in TINY_MODELS:
                build, name = TINY_MODELS[extra]
                model = build(tmp_path_factory.mktemp(extra) / "model")
                overrides = {"MODEL_DIR": str(model), "EMB_MODEL_NAME": name}
            else:
                overrides = dict(item.split("=", 1) for item in shlex.split(extra))
            server = Server(clean_env(EMB_THREADS="4", **overrides)).start()
            running[extra] = server
            server.wait_ready()
        return running[extra]

    yield get
    for server in running.values():
        server.kill()


def close(documented: object, actual: object, where: str = "$") -> None:
    """JSON equality, with floats (and base64 float32 vectors) within FLOAT_TOLERANCE."""
    if isinstance(documented, float) or isinstance(actual, float):
        assert isinstance(actual, int | float), f"{where}: {actual!r} is not a number"
        assert math.isclose(documented, actual, abs_tol=FLOAT_TOLERANCE), f"{where}: {actual} != {documented}"
    elif isinstance(documented, dict):
        assert isinstance(actual, dict) and documented.keys() == actual.keys(), f"{where}: keys differ: {actual}"
        for key in documented:
            close(documented[key], actual[key], f"{where}.{key}")
    elif isinstance(documented, list):
        assert isinstance(actual, list) and len(documented) == len(actual), f"{where}: lengths differ: {actual}"
        for i, (a, b) in enumerate(zip(documented, actual, strict=True)):
            close(a, b, f"{where}[{i}]")
    elif isinstance(documented, str) and isinstance(actual, str) and documented != actual:
        try:  # base64 of little-endian float32: compare the values
            import numpy as np

            a, b = (np.frombuffer(base64.b64decode(s, validate=True), "<f4") for s in (documented, actual))
        except ValueError:
            a = b = None
        assert a is not None and a.shape == b.shape, f"{where}: {actual!r} != {documented!r}"
        assert np.allclose(a, b, atol=FLOAT_TOLERANCE), f"{where}: {actual!r} != {documented!r}"
    else:
        assert documented == actual, f"{where}: {actual!r} != {documented!r}"


def test_the_guides_have_executable_examples():
    assert len(EXAMPLES) >= MIN_EXAMPLES, f"only {len(EXAMPLES)} executable examples in docs/"
    for example in EXAMPLES:
        if example.server_env is not None:  # a server block must talk to the server it is given
            assert any(address in example.block.code for address in LOCAL_ADDRESSES), example.id
        assert example.block.lang in ("bash", "python"), f"{example.id}: run a bash or python block"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.id)
def test_documented_example_runs(example: Example, servers, tmp_path: Path):
    if "requires" in example.options and shutil.which(example.options["requires"]) is None:
        pytest.skip(f"{example.options['requires']} is not installed")
    code = example.block.code
    if example.server_env is not None:
        server = servers(example.server_env)
        for address in LOCAL_ADDRESSES:
            code = code.replace(address, f"127.0.0.1:{server.port}")
    if example.block.lang == "python":
        command = [sys.executable, "-"]
    else:
        command = ["bash", "-e", "-u", "-o", "pipefail", "-s"]
    home = tmp_path / "home"
    home.mkdir()
    run = subprocess.run(
        command, input=code, cwd=scratch_checkout(tmp_path), env=example_env(home), capture_output=True,
        text=True, timeout=float(example.options.get("timeout", 60)),
    )  # fmt: skip
    output = run.stdout + run.stderr
    shown = f"{example.id} exited {run.returncode}; output:\n{output[-4000:]}"
    assert run.returncode == int(example.options.get("exit", 0)), shown
    for text in example.expect:
        assert text in output, f"{example.id}: {text!r} not in the output\n{output[-4000:]}"
    if example.output is not None:
        try:
            documented = json.loads(example.output)
        except ValueError:
            assert run.stdout.strip() == example.output.strip(), shown
        else:
            close(documented, json.loads(run.stdout))
