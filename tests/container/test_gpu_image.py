"""The GPU image flavour, checked on a machine without a GPU (`make test-gpu-image`; CI: container/ci.sh).

The image under test is ``CONTAINER_GPU_IMAGE`` when set, else it is built here with
``container/build.sh --flavour gpu`` (offline when container/wheelhouse/ holds the gpu wheels). Checks: the CUDA
12 build of torch is inside, the entrypoint's forward-compatibility choice for stubbed host driver versions, that
the image serves on the CPU where no GPU is present, and that a GPU it cannot use fails readiness with a reason
(or serves on the CPU with EMB_GPU_FALLBACK=cpu).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from container_harness import REPO, TEXTS, Container, assert_matches_reference, docker, engine_available, floats

pytestmark = pytest.mark.gpu_image

# /proc/driver/nvidia/version as the two kernel-module flavours print it.
PROPRIETARY = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  {v}  Tue Jul 13 16:14:05 UTC 2021\nGCC version:  gcc\n"
OPEN = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  {v}  Release Build  (dvs-builder@U16)  Thu Oct 19\n"
COMPAT_DRIVER = "570.124.06"


@pytest.fixture(scope="module")
def gpu_image() -> Iterator[str]:
    if not engine_available():
        pytest.skip("no Docker engine answers `docker info` (CI starts one: .ci/container-stage.sh)")
    given = os.environ.get("CONTAINER_GPU_IMAGE")
    if given:
        docker("image", "inspect", given)
        yield given
        return
    tag = f"embed-serving:pytest-gpu-{os.getpid()}"
    flags = ["--base", os.environ["BASE_IMAGE"]] if os.environ.get("BASE_IMAGE") else []
    held = REPO / "container" / "wheelhouse" / ".flavour"
    if held.is_file() and held.read_text().strip() == "gpu":
        flags.append("--offline")
    proc = subprocess.run(
        [str(REPO / "container" / "build.sh"), "--flavour", "gpu", "--tag", tag, *flags],
        capture_output=True,
        timeout=3600,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-4000:]
    try:
        yield tag
    finally:
        docker("rmi", "-f", tag, check=False)


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Fake driver version files and a compat folder holding a (fake) ``libcuda.so.<driver>``."""
    root = tmp_path_factory.mktemp("cuda-stubs")
    (root / "compat").mkdir()
    (root / "compat" / f"libcuda.so.{COMPAT_DRIVER}").write_bytes(b"")
    (root / "compat" / "libcuda.so.1").symlink_to(f"libcuda.so.{COMPAT_DRIVER}")
    for version, template in [("470.57.02", PROPRIETARY), ("535.104.05", OPEN), ("570.124.06", OPEN),
                              ("580.65.06", PROPRIETARY)]:  # fmt: skip
        (root / version).write_text(template.format(v=version))
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def run(image: str, *cmd: str, docker_args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return docker("run", "--rm", "--network", "none", *docker_args, image, *cmd, timeout=300)


def test_is_the_gpu_flavour_with_a_cuda_12_torch(gpu_image: str) -> None:
    label = docker("image", "inspect", "-f", '{{index .Config.Labels "embed-serving.flavour"}}', gpu_image)
    assert label.stdout.strip() == b"gpu"
    code = (
        "import torch, inference.gpu_host as g; "
        "print(torch.version.cuda, g.image_cuda_version(), torch.cuda.is_available())"
    )
    cuda, wheel_cuda, available = run(gpu_image, "python", "-c", code).stdout.decode().split()
    assert cuda.startswith("12.") and wheel_cuda == cuda == "12.8"
    assert available == "False"  # no GPU here: the CUDA build imports and reports none


@pytest.mark.parametrize(
    ("driver", "uses_compat"),
    [("470.57.02", True), ("535.104.05", True), ("570.124.06", False), ("580.65.06", False)],
)
def test_compat_selection_for_stubbed_host_drivers(gpu_image: str, stubs: Path, driver: str, uses_compat: bool) -> None:
    proc = run(
        gpu_image, "python", "-m", "inference.gpu_host", "--driver-version-file", f"/stubs/{driver}",
        "--compat-dir", "/stubs/compat", docker_args=("-v", f"{stubs}:/stubs:ro"),
    )  # fmt: skip
    assert proc.stdout.decode().strip() == ("/stubs/compat" if uses_compat else "")
    assert f"host driver {driver}" in proc.stderr.decode()


def test_entrypoint_puts_the_compat_folder_on_the_library_path_only_when_chosen(gpu_image: str, stubs: Path) -> None:
    mount = ("-v", f"{stubs / 'compat'}:/usr/local/cuda/compat:ro")
    # No NVIDIA driver in this container: auto leaves the path alone, EMB_CUDA_COMPAT=on forces the folder in.
    show = ("sh", "-c", 'echo "path=${LD_LIBRARY_PATH:-}"')
    auto = run(gpu_image, *show, docker_args=mount).stdout.decode().strip()
    forced = run(gpu_image, *show, docker_args=(*mount, "-e", "EMB_CUDA_COMPAT=on")).stdout.decode().strip()
    assert auto.startswith("path=") and "/usr/local/cuda/compat" not in auto
    assert forced.removeprefix("path=").split(":")[0] == "/usr/local/cuda/compat"


def test_serves_on_the_cpu_without_a_gpu(gpu_image: str, unique: str, reference) -> None:
    box = Container.run(gpu_image, f"embed-gpu-cpu-{unique}", docker_args=("-e", "EMB_WORKERS=1"))
    try:
        box.wait_ready()
        reply = box.post("/invocations", {"input": TEXTS})
        assert reply.status == 200, reply.body[:500]
        assert_matches_reference(floats(reply.json()), reference)
    finally:
        box.remove()


def test_a_gpu_it_cannot_use_fails_readiness_with_the_reason_or_serves_on_cpu(gpu_image: str, unique: str) -> None:
    # A device node named like a GPU (here /dev/null) makes the server plan a CUDA worker that CUDA cannot serve.
    fake_gpu = ("--device", "/dev/null:/dev/nvidia0")
    box = Container.run(gpu_image, f"embed-gpu-fail-{unique}", docker_args=fake_gpu)
    try:
        box.wait_until(lambda: b"GpuUnavailableError" in box.get("/ping").body, "/ping naming the GPU failure")
        ping = box.get("/ping")
        assert ping.status == 503
        reason = ping.body.decode()
        assert "CUDA 12.8 runtime needs driver >= 525.60.13" in reason and "EMB_GPU_FALLBACK=cpu" in reason
    finally:
        box.remove()
    fallback = (*fake_gpu, "-e", "EMB_GPU_FALLBACK=cpu")
    box = Container.run(gpu_image, f"embed-gpu-fallback-{unique}", docker_args=fallback)
    try:
        box.wait_ready()
        assert box.post("/invocations", {"input": TEXTS[:2]}).status == 200
        assert "serving on the CPU (EMB_GPU_FALLBACK=cpu)" in box.logs(tail=400)
    finally:
        box.remove()
