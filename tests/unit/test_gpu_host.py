"""GPU host checks without a GPU: the driver query is stubbed with files, CUDA availability with monkeypatch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from inference import gpu_host
from inference.handlers import device as device_module
from inference.handlers.device import GpuUnavailableError, pick_device

PROPRIETARY = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.57.02  Tue Jul 13 16:14:05 UTC 2021\nGCC version:\n"
OPEN = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  535.104.05  Release Build  (dvs-builder@U16)  Thu\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "version"), [(PROPRIETARY, "470.57.02"), (OPEN, "535.104.05"), ("garbage", None)])
def test_host_driver_version_reads_both_kernel_module_flavours(tmp_path: Path, text: str, version: str | None) -> None:
    assert gpu_host.host_driver_version(write(tmp_path / "version", text)) == version


def test_no_driver_file_means_no_driver(tmp_path: Path) -> None:
    assert gpu_host.host_driver_version(tmp_path / "absent") is None


def test_compat_driver_version_is_the_newest_full_libcuda_version(tmp_path: Path) -> None:
    assert gpu_host.compat_driver_version(tmp_path) is None
    names = ("libcuda.so", "libcuda.so.1", "libcuda.so.570.124.06", "libcuda.so.565.57.01", "libnvidia-ptx.so.580.1")
    for name in names:
        (tmp_path / name).write_bytes(b"")
    assert gpu_host.compat_driver_version(tmp_path) == "570.124.06"


@pytest.mark.parametrize(
    ("host", "compat", "mode", "use"),
    [
        ("470.57.02", "570.124.06", "auto", True),  # SageMaker g4dn/g5 default: forward compatibility
        ("535.104.05", "570.124.06", "auto", True),  # older than the compat library: use it
        ("570.124.06", "570.124.06", "auto", False),  # as new: never an older-or-equal compat libcuda
        ("580.65.06", "570.124.06", "auto", False),  # newer: the compat libcuda would fail to initialise
        (None, "570.124.06", "auto", False),  # no driver (CPU host)
        ("470.57.02", None, "auto", False),  # no compat libraries in the image (CPU flavour)
        ("580.65.06", "570.124.06", "on", True),
        ("470.57.02", "570.124.06", "off", False),
        (None, None, "on", False),  # nothing to load
    ],
)
def test_compat_plan(host: str | None, compat: str | None, mode: str, use: bool) -> None:
    assert gpu_host.compat_plan(host, compat, mode).use_compat is use


def test_version_comparison_is_numeric_not_textual() -> None:
    assert gpu_host.compat_plan("535.9", "535.104.05").use_compat  # "535.9" > "535.104.05" as text


def test_driver_cuda_and_minimum_driver_tables() -> None:
    assert gpu_host.driver_cuda("470.57.02") == "11.4"
    assert gpu_host.driver_cuda("535.104.05") == "12.2"
    assert gpu_host.driver_cuda("580.65.06") == "13.0"
    assert gpu_host.driver_cuda("418.1") is None
    assert gpu_host.minimum_driver("12.8") == "525.60.13"
    assert gpu_host.minimum_driver("11.8") == "450.80.02"
    assert gpu_host.minimum_driver("13.0") == "580.65.06"


def test_unusable_reason_names_the_driver_the_image_cuda_and_the_way_out() -> None:
    reason = gpu_host.unusable_reason("470.57.02", "12.8", compat_used=False)
    assert "host NVIDIA driver 470.57.02 (CUDA 11.4)" in reason
    assert "CUDA 12.8 runtime needs driver >= 525.60.13" in reason
    assert "EMB_GPU_FALLBACK=cpu" in reason and "--inference-ami-version" in reason
    assert "EMB_CUDA_COMPAT=off" in gpu_host.unusable_reason("470.57.02", "12.8", compat_used=True)
    assert "CPU build of the image" in gpu_host.unusable_reason("535.104.05", None, compat_used=False)


def test_main_prints_the_compat_folder_only_when_chosen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compat = tmp_path / "compat"
    compat.mkdir()
    (compat / "libcuda.so.570.124.06").write_bytes(b"")
    old = write(tmp_path / "old", PROPRIETARY)
    new = write(tmp_path / "new", PROPRIETARY.replace("470.57.02", "575.51.03"))
    args = ["--compat-dir", str(compat), "--mode", "auto", "--driver-version-file"]
    assert gpu_host.main([*args, str(old)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(compat) and "host driver 470.57.02 is older" in err
    gpu_host.main([*args, str(new)])
    out, err = capsys.readouterr()
    assert out == "" and "not using" in err


def test_main_reads_the_mode_from_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    compat = tmp_path / "compat"
    compat.mkdir()
    (compat / "libcuda.so.570.124.06").write_bytes(b"")
    monkeypatch.setenv("EMB_CUDA_COMPAT", "on")
    gpu_host.main(["--compat-dir", str(compat), "--driver-version-file", str(tmp_path / "absent")])
    assert capsys.readouterr().out.strip() == str(compat)


# --- pick_device: what the worker does when CUDA is unavailable ------------------------------------------


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def fake_gpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, present: bool) -> None:
    driver = write(tmp_path / "version", PROPRIETARY) if present else tmp_path / "absent"
    monkeypatch.setattr(gpu_host, "DRIVER_VERSION_FILE", driver)
    monkeypatch.setattr(gpu_host.host_driver_version, "__defaults__", (driver,))
    monkeypatch.setattr(device_module, "visible_device_nodes", lambda: ["nvidia0"] if present else [])
    monkeypatch.setattr(gpu_host, "image_cuda_version", lambda: "12.8")


def test_auto_without_a_gpu_is_the_cpu(no_cuda, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_gpu(monkeypatch, tmp_path, present=False)
    assert pick_device("auto", "fail") == torch.device("cpu")


@pytest.mark.parametrize("requested", ["auto", "cuda:0"])
def test_a_gpu_cuda_cannot_use_fails_with_the_driver_and_cuda_named(
    no_cuda, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, requested: str
) -> None:
    fake_gpu(monkeypatch, tmp_path, present=True)
    with pytest.raises(GpuUnavailableError) as info:
        pick_device(requested, "fail")
    assert "470.57.02" in str(info.value) and "CUDA 12.8 runtime needs driver >= 525.60.13" in str(info.value)


def test_cpu_fallback_serves_on_the_cpu_with_a_warning(
    no_cuda, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_gpu(monkeypatch, tmp_path, present=True)
    warned: list[str] = []
    # The package's loggers may not propagate to pytest's handler (the app configures JSON logging): record directly.
    monkeypatch.setattr(device_module.log, "warning", lambda fmt, *args: warned.append(fmt % args))
    assert pick_device("cuda:0", "cpu") == torch.device("cpu")
    assert len(warned) == 1 and "EMB_GPU_FALLBACK=cpu" in warned[0] and "470.57.02" in warned[0]


def test_cuda_asked_for_without_any_gpu_says_so(no_cuda, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_gpu(monkeypatch, tmp_path, present=False)
    with pytest.raises(GpuUnavailableError, match="EMB_DEVICE=cuda but no NVIDIA GPU is visible"):
        pick_device("cuda", "fail")
