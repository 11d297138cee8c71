"""Wheels for the GPU bench on an offline CUDA machine (used by ``bench/gpu-wheels.sh`` and ``bench/gpu.sh``).

``download DEST``: here, with a package index, every runtime dependency of this project (``pyproject.toml``)
except torch and the NVIDIA/CUDA libraries, plus sentence-transformers and pytest (the test extra's
pins), with the dependencies of each, for the target's Python (default 3.12, x86-64 manylinux); one
``pip download --no-deps`` round per level of the dependency tree, the versions checked against every
requirement met. ``--have FILE`` leaves out what the target already has (``pip freeze`` there, or one name a
line). ``--split-mib N`` cuts larger wheels into ``*.whl.part-NN`` pieces, for transfers limited in size.

``plan JOINDIR DIR...``: on the target, the carried wheels to install: those whose distribution is missing, or
installed at a version that this project's requirements or another installed wheel's refuse; pieces are joined
into JOINDIR first. Prints one path a line. Standard library plus ``packaging`` (or pip's copy of it).
"""

from __future__ import annotations

import argparse
import email.parser
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterable
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version
except ImportError:  # pragma: no cover - a bare interpreter: pip's vendored copy
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[assignment]
    from pip._vendor.packaging.specifiers import SpecifierSet  # type: ignore[assignment]
    from pip._vendor.packaging.version import Version  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parent.parent
# Never carried: the target's own torch build and the CUDA libraries that come with it.
EXCLUDED = re.compile(r"^(torch|triton|nvidia-.*|cuda-.*|pytorch-triton.*)$")
# From the test extra (with its pins): the baseline and the test runner.
EXTRA_ROOTS = ("sentence-transformers", "pytest")
PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_24_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)
WHEEL_NAME = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_id(path: Path) -> tuple[str, str]:
    """(canonical name, version) from a wheel's file name."""
    match = WHEEL_NAME.match(path.name)
    if not match:
        raise ValueError(f"not a wheel file name: {path.name}")
    return canonical(match["name"]), match["version"]


def marker_env(python: str) -> dict[str, str]:
    full = python if python.count(".") == 2 else f"{python}.0"
    return {
        "python_version": ".".join(python.split(".")[:2]),
        "python_full_version": full,
        "implementation_name": "cpython",
        "implementation_version": full,
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
        "platform_release": "",
        "platform_version": "",
    }


def project_requirements(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, Requirement]:
    """Runtime dependencies, and the test extra's sentence-transformers and pytest, by canonical name."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    reqs = {canonical(r.name): r for r in map(Requirement, project["dependencies"])}
    for line in project.get("optional-dependencies", {}).get("test", []):
        req = Requirement(line)
        if canonical(req.name) in EXTRA_ROOTS:
            reqs[canonical(req.name)] = req
    return {name: req for name, req in reqs.items() if not EXCLUDED.match(name)}


def wheel_requirements(wheel: Path, extras: Iterable[str], env: dict[str, str]) -> list[Requirement]:
    """``Requires-Dist`` of a wheel whose markers hold on the target (with the requested extras)."""
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
        message = email.parser.Parser().parsestr(archive.read(meta).decode("utf-8"))
    out = []
    for line in message.get_all("Requires-Dist") or []:
        req = Requirement(line)
        if req.marker is None or any(req.marker.evaluate({**env, "extra": e}) for e in ("", *extras)):
            out.append(req)
    return out


# --- download (here) -------------------------------------------------------------------------------------


def read_have(path: Path | None) -> set[str]:
    if path is None:
        return set()
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.add(canonical(re.split(r"[=<>!~ @;\[(]", line, maxsplit=1)[0]))
    return names


def _pip_download(specs: list[str], dest: Path, python: str, platforms: Iterable[str]) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    cmd += ["--python-version", python, "--implementation", "cp", "-d", str(dest)]
    for platform in platforms:
        cmd += ["--platform", platform]
    print("pip download --no-deps " + " ".join(specs), flush=True)
    subprocess.run([*cmd, *specs], check=True)


def _meets(version: str, specs: Iterable[SpecifierSet]) -> bool:
    return all(s.contains(version, prereleases=True) for s in specs)


class Closure:
    """Requirements met so far (specifiers and extras by name) and the wheel chosen for each."""

    def __init__(self, dest: Path, python: str, have: set[str]) -> None:
        self.dest, self.python, self.have, self.env = dest, python, have, marker_env(python)
        self.specs: dict[str, list[SpecifierSet]] = {}
        self.extras: dict[str, set[str]] = {}
        self.files: dict[str, Path] = {}
        self.read: dict[str, tuple[Path, frozenset[str]]] = {}  # whose requirements were added, with which extras
        for wheel in dest.glob("*.whl"):
            self.files.setdefault(wheel_id(wheel)[0], wheel)

    def want(self, req: Requirement) -> None:
        name = canonical(req.name)
        if EXCLUDED.match(name) or name in self.have:
            return
        specs = self.specs.setdefault(name, [])
        if req.specifier not in specs:
            specs.append(req.specifier)
        self.extras.setdefault(name, set()).update(req.extras)

    def fetch(self, platforms: Iterable[str]) -> bool:
        """Download what is missing or refused by a requirement; whether anything was."""
        stale = [n for n in self.specs if n not in self.files or not _meets(wheel_id(self.files[n])[1], self.specs[n])]
        for name in stale:
            if name in self.files:
                self.files.pop(name).unlink()
        if not stale:
            return False
        _pip_download([n + ",".join(str(s) for s in self.specs[n] if str(s)) for n in stale], self.dest, self.python,
                      platforms)
        for wheel in self.dest.glob("*.whl"):
            if wheel_id(wheel)[0] in stale:
                self.files[wheel_id(wheel)[0]] = wheel
        return True

    def expand(self) -> bool:
        """Add the requirements of wheels not read yet (or read with fewer extras); whether any were."""
        todo = [n for n in self.specs if self.read.get(n) != (self.files[n], frozenset(self.extras[n]))]
        for name in todo:
            for req in wheel_requirements(self.files[name], self.extras[name], self.env):
                self.want(req)
            self.read[name] = (self.files[name], frozenset(self.extras[name]))
        return bool(todo)


def download(dest: Path, python: str, have: set[str], platforms: Iterable[str]) -> dict[str, Path]:
    """The dependency closure of the project's roots, minus ``have`` and the excluded, as wheels in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    closure = Closure(dest, python, have)
    for req in project_requirements().values():
        closure.want(req)
    while closure.fetch(platforms) | closure.expand():
        pass
    return {n: closure.files[n] for n in closure.specs}


def split(wheel: Path, mib: int) -> list[Path]:
    size = mib * 1024 * 1024
    parts: list[Path] = []
    with wheel.open("rb") as src:
        while chunk := src.read(size):
            part = wheel.with_name(f"{wheel.name}.part-{len(parts):02d}")
            part.write_bytes(chunk)
            parts.append(part)
    wheel.unlink()
    return parts


def cmd_download(args: argparse.Namespace) -> int:
    dest = args.dest.resolve()
    for piece in dest.glob("*.whl.part-*"):  # an earlier --split-mib run's: made again below if asked for
        piece.unlink()
    files = download(dest, args.python_version, read_have(args.have), args.platform or PLATFORMS)
    keep = {p.name for p in files.values()}
    for stray in dest.glob("*.whl"):
        if stray.name not in keep:  # an earlier run's version
            stray.unlink()
    if args.split_mib:
        for wheel in list(files.values()):
            if wheel.stat().st_size > args.split_mib * 1024 * 1024:
                print(f"split {wheel.name} into {len(split(wheel, args.split_mib))} pieces")
    sizes = sorted(((p.stat().st_size, p.name) for p in dest.iterdir() if ".whl" in p.name), reverse=True)
    total = sum(s for s, _ in sizes)
    for size, name in sizes:
        print(f"{size / 2**20:8.1f} MiB  {name}")
    print(f"{total / 2**20:8.1f} MiB  in {len(sizes)} files, {dest}")
    if args.max_mib and total > args.max_mib * 2**20:
        print(
            f"warning: above {args.max_mib} MiB; leave out what the target has (--have FILE with its `pip freeze`), "
            "or cut big wheels (--split-mib N) and carry the pieces in turns",
            file=sys.stderr,
        )
    return 0


# --- plan (on the target) --------------------------------------------------------------------------------


def installed_version(name: str) -> Version | None:
    try:
        return Version(importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
        return None


def join_pieces(dirs: Iterable[Path], join_dir: Path) -> list[Path]:
    """Every carried wheel, pieces (``*.whl.part-NN``, possibly spread over several folders) joined."""
    wheels: dict[str, Path] = {}
    pieces: dict[str, list[Path]] = {}
    for folder in dirs:
        for path in sorted(folder.glob("*.whl")):
            wheels.setdefault(path.name, path)
        for path in folder.glob("*.whl.part-*"):
            pieces.setdefault(path.name.rsplit(".part-", 1)[0], []).append(path)
    for name, parts in pieces.items():
        if name in wheels:
            continue
        join_dir.mkdir(parents=True, exist_ok=True)
        target = join_dir / name
        with target.open("wb") as out:
            for part in sorted(parts, key=lambda p: p.name):
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out)
        if not zipfile.is_zipfile(target):
            raise SystemExit(f"{name}: its pieces do not make a whole wheel (one missing?): {sorted(parts)}")
        wheels[name] = target
    return sorted(wheels.values())


def plan(wheels: list[Path], python: str) -> list[tuple[Path, str]]:
    """(wheel, why) to install: missing distributions, and installed ones that a requirement refuses."""
    env = marker_env(python)
    carried: dict[str, Path] = {}
    for wheel in wheels:
        name = wheel_id(wheel)[0]
        if not EXCLUDED.match(name):
            carried.setdefault(name, wheel)
    chosen: dict[str, str] = {}
    needs: list[Requirement] = list(project_requirements().values())
    while needs:
        req = needs.pop()
        name = canonical(req.name)
        if name in chosen or name not in carried:
            continue
        have = installed_version(name)
        if have is not None and (not req.specifier or req.specifier.contains(have, prereleases=True)):
            continue
        why = "missing" if have is None else f"{have} installed, {req.specifier} needed"
        chosen[name] = why
        needs.extend(wheel_requirements(carried[name], req.extras, env))
    return [(carried[name], why) for name, why in sorted(chosen.items())]


def cmd_plan(args: argparse.Namespace) -> int:
    wheels = join_pieces(args.dirs, args.join_dir)
    python = ".".join(map(str, sys.version_info[:3]))
    for wheel, why in plan(wheels, python):
        print(f"  install {wheel.name} ({why})", file=sys.stderr)
        print(wheel)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/gpu_deps.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    down = sub.add_parser("download", help="here: fetch the wheels")
    down.add_argument("dest", type=Path, nargs="?", default=ROOT / "bench" / ".wheels")
    down.add_argument("--python-version", default="3.12", help="the target's Python (default 3.12)")
    down.add_argument("--platform", action="append", help=f"pip --platform tags (default: {', '.join(PLATFORMS)})")
    down.add_argument("--have", type=Path, help="names (or `pip freeze`) of what the target has: left out")
    down.add_argument("--split-mib", type=int, default=0, help="cut wheels above N MiB into pieces")
    down.add_argument("--max-mib", type=int, default=55, help="warn above this total (default 55)")
    down.set_defaults(func=cmd_download)
    pl = sub.add_parser("plan", help="on the target: which carried wheels to install")
    pl.add_argument("join_dir", type=Path)
    pl.add_argument("dirs", type=Path, nargs="*")
    pl.set_defaults(func=cmd_plan)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
