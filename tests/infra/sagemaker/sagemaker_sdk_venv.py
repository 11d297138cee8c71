"""Build the virtual environment of one SageMaker Python SDK version, layered on the project's (``make
test-sagemaker-sdk``). Run it with the project venv's Python:

    .venv/bin/python tests/infra/sagemaker/sagemaker_sdk_venv.py .venv-sagemaker-sdk-v3 sagemaker-sdk-v3

The new venv's site-packages come first on ``sys.path``, then the project venv's (a ``.pth`` line), so the SDK and
the versions it pins (``protobuf`` < 7, ``rich``, ...) shadow the project's in this venv only, and everything else
(torch, sentence-transformers, moto, pytest, the project) is the project venv's. pip sees those packages and installs
only what is missing or pinned differently. The requirements are the pyproject extra's. Standard library only.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PTH_NAME = "zz_project_venv.pth"  # sorted last: processed after the venv's own .pth files


def extra_requirements(pyproject: Path, extra: str) -> list[str]:
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    extras = data["project"]["optional-dependencies"]
    if extra not in extras:
        raise SystemExit(f"{pyproject}: no optional-dependencies extra {extra!r} (have: {', '.join(sorted(extras))})")
    return list(extras[extra])


def site_packages(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return Path(out.stdout.strip())


def build(target: Path, requirements: list[str]) -> None:
    if sys.prefix == sys.base_prefix:
        raise SystemExit("run this with the project venv's Python (.venv/bin/python): it layers on that venv")
    project_site = sysconfig.get_paths()["purelib"]
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    python = target / "bin" / "python"
    (site_packages(python) / PTH_NAME).write_text(f"import site; site.addsitedir({project_site!r})\n", encoding="utf-8")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *requirements], check=True)
    (target / ".installed").write_text("\n".join(requirements) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", type=Path, help="the venv to (re)create")
    parser.add_argument("extra", help="pyproject optional-dependencies extra, e.g. sagemaker-sdk-v3")
    parser.add_argument("--pyproject", type=Path, default=REPO / "pyproject.toml")
    args = parser.parse_args(argv)
    build(args.target, extra_requirements(args.pyproject, args.extra))
    return 0


if __name__ == "__main__":
    sys.exit(main())
