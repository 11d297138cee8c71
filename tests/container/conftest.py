"""Fixtures for the container tests (``pytest -m container tests/container``; CI: .ci/container-stage.sh).

The image under test is ``CONTAINER_IMAGE`` when set (container/ci.sh builds it first), otherwise it is built
here with container/build.sh (flags from ``CONTAINER_BUILD_FLAGS``, or ``BASE_IMAGE`` + ``--offline`` when
container/wheelhouse/ holds wheels) and removed afterwards. Without a Docker engine every test is skipped,
and the run ends with a banner that says so.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from container_harness import TEXTS, build_image, docker, engine_available

from inference.model_dir import embedded_model_dir

METRICS: dict[str, float | str] = {}
SKIPPED_NO_ENGINE: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SKIPPED_NO_ENGINE:
        line = "!" * 100
        terminalreporter.write_line(line, red=True, bold=True)
        terminalreporter.write_line(f"!!! CONTAINER TESTS SKIPPED: {SKIPPED_NO_ENGINE[0]}", red=True, bold=True)
        terminalreporter.write_line(line, red=True, bold=True)
    if METRICS:
        terminalreporter.section("container measurements")
        for key, value in METRICS.items():
            terminalreporter.write_line(f"{key:<40} {value}")
        if os.environ.get("CONTAINER_METRICS"):
            Path(os.environ["CONTAINER_METRICS"]).write_text(json.dumps(METRICS, indent=2) + "\n")


@pytest.fixture(scope="session")
def metrics() -> dict[str, float | str]:
    return METRICS


@pytest.fixture(scope="session")
def image() -> Iterator[str]:
    if not engine_available():
        reason = "no Docker engine answers `docker info` (CI starts one: .ci/container-stage.sh)"
        SKIPPED_NO_ENGINE.append(reason)
        pytest.skip(reason)
    given = os.environ.get("CONTAINER_IMAGE")
    if given:
        docker("image", "inspect", given)
        yield given
        return
    tag = f"embed-serving:pytest-{os.getpid()}"
    METRICS["image build (s, in pytest)"] = round(build_image(tag), 1)
    try:
        yield tag
    finally:
        docker("rmi", "-f", tag, check=False)


@pytest.fixture(scope="session")
def unique() -> str:
    """Suffix for container and image names, so parallel runs on one engine do not collide (CI passes its own)."""
    return os.environ.get("CONTAINER_TEST_SUFFIX") or str(os.getpid())


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The embedded model's folder on the host (same files as in the image)."""
    return embedded_model_dir()


@pytest.fixture(scope="session")
def reference() -> np.ndarray:
    """Reference vectors for TEXTS from sentence-transformers on the host (independent of the service's code)."""
    st = pytest.importorskip("sentence_transformers")
    model = st.SentenceTransformer(str(embedded_model_dir()), device="cpu")
    return np.asarray(model.encode(TEXTS, normalize_embeddings=True), dtype=np.float32)


