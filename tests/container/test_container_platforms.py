"""The image as each platform starts it: SageMaker (model.tar.gz, env, root), Azure ML (AZUREML_MODEL_DIR,
non-root, read-only mount), a model baked in at build time, and the non-root failure mode."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from container_harness import (
    REPO,
    TEXTS,
    Container,
    assert_matches_reference,
    build_image,
    docker,
    floats,
    health,
)

pytestmark = pytest.mark.container

# Inside the container: gunicorn processes (master + workers) by /proc cmdline.
COUNT_GUNICORN = r"""
import os
count = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    if int(pid) == os.getpid():
        continue
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ")
    except OSError:
        continue
    count += b"embed-serve" in cmd
print(count)
"""


def pack_and_extract(model_dir: Path, work: Path) -> Path:
    """container/pack_model.py, then extract the archive the way SageMaker fills /opt/ml/model."""
    archive = work / "model.tar.gz"
    subprocess.run([sys.executable, str(REPO / "container" / "pack_model.py"), str(model_dir), "-o", str(archive)],
                   check=True, capture_output=True)
    target = work / "opt-ml-model"
    target.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return target


# --- SageMaker: `docker run IMAGE serve`, model.tar.gz under /opt/ml/model, SAGEMAKER_* env, as root -------------
@pytest.fixture(scope="module")
def sagemaker(image: str, unique: str, model_dir: Path, tmp_path_factory: pytest.TempPathFactory,
              metrics: dict) -> Iterator[Container]:
    model = pack_and_extract(model_dir, tmp_path_factory.mktemp("sagemaker"))
    container = Container.run(
        image,
        f"embed-test-sagemaker-{unique}",
        port=9090,
        docker_args=(
            "--user", "0",  # what SageMaker's documentation assumes; the image's default is non-root
            "-v", f"{model}:/opt/ml/model:ro",
            "-e", "SAGEMAKER_BIND_TO_PORT=9090",
            "-e", "SAGEMAKER_MODEL_SERVER_WORKERS=2",
            "-e", "SAGEMAKER_MODEL_SERVER_TIMEOUT=90",
            "-e", "EMB_LOG_LEVEL=DEBUG",  # gunicorn prints its effective configuration
        ),
        command=("serve",),
    )
    try:
        metrics["startup to ready, 2 workers, packed model (s)"] = round(container.wait_ready(), 1)
        yield container
    finally:
        container.remove()


def test_sagemaker_serves_the_packed_model(sagemaker: Container, reference: np.ndarray) -> None:
    assert health(sagemaker.get("/ping").json()) == {"status": "ready", "model": "model"}
    reply = sagemaker.post("/invocations", {"input": TEXTS})
    assert reply.status == 200, reply.body
    assert_matches_reference(floats(reply.json()), reference)


def test_sagemaker_env_is_honoured(sagemaker: Container) -> None:
    # SAGEMAKER_BIND_TO_PORT: nothing listens on 8080, the server answers on 9090.
    assert sagemaker.request("GET", "/ping").status == 200
    assert Container(name=sagemaker.name, port=8080).get("/ping").status == 0
    # SAGEMAKER_MODEL_SERVER_WORKERS: a master and two workers; Batch Transform is told about both.
    assert sagemaker.python(COUNT_GUNICORN) == "3"
    assert sagemaker.get("/execution-parameters").json()["MaxConcurrentTransforms"] == 2
    status = sagemaker.exec("cat", "/proc/1/status").stdout.decode()
    assert "Uid:\t0\t" in status
    # SAGEMAKER_MODEL_SERVER_TIMEOUT reaches gunicorn; the graceful timeout stays under SageMaker's 30 s.
    config = docker("logs", sagemaker.name).stderr.decode() + docker("logs", sagemaker.name).stdout.decode()
    assert "\n  timeout: 90\n" in config
    assert "\n  workers: 2\n" in config
    assert "\n  graceful_timeout: 25\n" in config


def test_sagemaker_sigterm_drains_in_flight_request(sagemaker: Container, metrics: dict) -> None:
    """SIGTERM while a request is being computed: it completes, then the container exits 0 within 30 s."""
    heavy = {"input": [f"passage {i}: " + "lorem ipsum dolor sit amet " * 40 for i in range(40)]}
    background = sagemaker.start_request("POST", "/invocations", heavy, timeout=120)
    sagemaker.wait_until(lambda: sagemaker.established_connections() >= 1, "the heavy request in flight")
    seconds, code = sagemaker.terminate()
    reply = Container.finish(background)
    metrics["SIGTERM -> exit, request in flight (s)"] = round(seconds, 1)
    assert code == 0, sagemaker.logs()
    assert seconds < 30
    assert reply.status == 200, (reply.status, reply.body[:300])
    assert len(reply.json()["data"]) == 40


# --- Azure ML: AZUREML_MODEL_DIR (nested folders), no arguments, non-root, read-only everything --------------
@pytest.fixture(scope="module")
def azure(image: str, unique: str, model_dir: Path, tmp_path_factory: pytest.TempPathFactory,
          metrics: dict) -> Iterator[Container]:
    root = tmp_path_factory.mktemp("azureml-models")
    root.chmod(0o755)  # pytest makes its temp folders 0700; the mount must be readable by uid 10001
    shutil.copytree(model_dir, root / "minilm" / "1" / "model")
    container = Container.run(
        image,
        f"embed-test-azure-{unique}",
        docker_args=(
            "--read-only", "--tmpfs", "/tmp",
            "-v", f"{root}:/var/azureml-app/azureml-models:ro",
            "-e", "AZUREML_MODEL_DIR=/var/azureml-app/azureml-models",
            "-e", "EMB_MODEL_NAME=minilm-azure",
        ),
    )
    try:
        metrics["startup to ready, Azure layout (s)"] = round(container.wait_ready(), 1)
        yield container
    finally:
        container.remove()


def test_azure_finds_the_nested_model(azure: Container, reference: np.ndarray) -> None:
    assert health(azure.get("/health/ready").json()) == {"status": "ready", "model": "minilm-azure"}
    assert azure.get("/health/live").status == 200
    reply = azure.post("/score", {"input": TEXTS})
    assert reply.status == 200, reply.body
    assert reply.json()["model"] == "minilm-azure"
    assert_matches_reference(floats(reply.json()), reference)


def test_azure_model_dir_is_read_only_and_still_works(azure: Container) -> None:
    write = azure.exec("touch", "/var/azureml-app/azureml-models/minilm/1/model/x", check=False)
    assert write.returncode != 0
    assert azure.exec("id", "-u").stdout.decode().strip() == "10001"


def test_azure_without_a_registered_model_serves_the_embedded_one(image: str, unique: str, reference) -> None:
    """Azure ML sets AZUREML_MODEL_DIR also for a deployment without a model (the SDK's local endpoint mounts it
    empty): the image's own model serves instead of /ping staying 503."""
    container = Container.run(image, f"embed-test-azure-empty-{unique}", docker_args=(
        "--read-only", "--tmpfs", "/tmp", "--tmpfs", "/var/azureml-app/azureml-models",
        "-e", "AZUREML_MODEL_DIR=/var/azureml-app/azureml-models"))  # fmt: skip
    try:
        container.wait_ready()
        assert container.get("/health/ready").json()["model"] == "all-MiniLM-L6-v2"
        reply = container.post("/score", {"input": TEXTS})
        assert reply.status == 200, reply.body
        assert_matches_reference(floats(reply.json()), reference)
    finally:
        container.remove()


def test_azure_sigterm_idle(azure: Container, metrics: dict) -> None:
    seconds, code = azure.terminate()
    metrics["SIGTERM -> exit, idle, Azure (s)"] = round(seconds, 1)
    assert code == 0 and seconds < 30


# --- The non-root failure mode: model files only root can read -----------------------------------------------
def test_unreadable_model_fails_visibly_not_silently(image: str, unique: str, model_dir: Path,
                                                     tmp_path: Path) -> None:
    """As non-root, a model packed with 0600 files cannot load: /ping stays 503 (saying where the reason is: the
    log, never the caller), the process stays up (no crash loop). container/pack_model.py normalises modes, so its
    archives never do this."""
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    for path in model.rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)
    container = Container.run(image, f"embed-test-unreadable-{unique}", docker_args=("-v", f"{model}:/opt/ml/model:ro"))
    try:
        container.wait_until(lambda: b"failed" in container.get("/ping").body, "/ping reporting the load failure")
        reply = container.get("/ping")
        assert reply.status == 503
        assert reply.json()["error"]["message"] == "model failed to load; the server log says why"
        assert "Permission" in container.logs(tail=400)
        assert container.running()
    finally:
        container.remove()


# --- A model baked into the image at build time (BAKE_MODEL build arg) ----------------------------------------
def test_baked_model(image: str, unique: str, model_dir: Path, reference: np.ndarray, metrics: dict) -> None:
    name = f"pytest-bake-{unique}"
    staged = REPO / "container" / "models" / name
    tag = f"embed-serving:pytest-bake-{unique}"
    shutil.copytree(model_dir, staged)
    container = None
    try:
        metrics["rebuild with a baked model (s)"] = round(build_image(tag, "--bake", name, "--model-name", "baked"), 1)
        container = Container.run(tag, f"embed-test-baked-{unique}", docker_args=("--read-only", "--tmpfs", "/tmp"))
        container.wait_ready()
        assert health(container.get("/ping").json()) == {"status": "ready", "model": "baked"}
        assert_matches_reference(floats(container.post("/invocations", {"input": TEXTS}).json()), reference)
        listing = container.exec("ls", "-ln", "/opt/ml/model").stdout.decode()
        assert "model.safetensors" in listing
    finally:
        if container is not None:
            container.remove()
        docker("rmi", "-f", tag, check=False)
        shutil.rmtree(staged, ignore_errors=True)
