"""The settings of how the model computes (torch threads, compilation, the CPU backend), a part of ``Settings``
(settings.py), which reads them from the environment with the rest (the same way as settings_access.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .settings_access import env_alias as _env


class BackendSettings(BaseSettings):
    """The model's compute backend on CPU and GPU (docs/performance/cpu.md#cpu-backends)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    compile: Literal["off", "default", "reduce-overhead", "max-autotune"] = Field(
        "off",
        validation_alias=_env("EMB_COMPILE"),
        description="`torch.compile` mode for the model's forward pass (`reduce-overhead` adds CUDA graphs on "
        "GPUs); `off` runs eager. Compiling costs start-up time; unmeasured on GPUs so far (docs/performance/gpu.md).",
    )
    torch_threads: int | None = Field(
        None,
        ge=1,
        validation_alias=_env("EMB_TORCH_THREADS"),
        description="torch intra-op threads per CPU worker (also ONNX Runtime's). Default: usable cores / workers.",
    )
    cpu_backend: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        "auto",
        validation_alias=_env("EMB_CPU_BACKEND"),
        description="What runs a text encoder (BERT, XLM-RoBERTa, MPNet, ... in float32) on CPU. `auto`: ONNX Runtime "
        "without torch when the model has an ONNX package (the image's embedded model, `pack_model` archives, "
        "`embed-serve export-onnx`) and takes at most 512 tokens, else torch; nothing is exported at start. `onnx`: "
        "ONNX Runtime fp32 (the same vectors to 1e-5), exporting the package into `EMB_ONNX_CACHE_DIR` at the first "
        "start if the model has none; `torch`; `onnx-int8` (opt-in, approximate: never mix its vectors into an fp32 "
        "index). GPUs, other families, task adapters, `EMB_COMPILE` and a failed export use torch "
        "(docs/performance/cpu.md#cpu-backends).",
    )
    onnx_cache_dir: Path | None = Field(
        None,
        validation_alias=_env("EMB_ONNX_CACHE_DIR"),
        description="Where `EMB_CPU_BACKEND=onnx` exports a model that has no ONNX package of its own (one folder "
        "per model, keyed by its weights), and where `auto` looks for one after the model folder's "
        "`embed-serving-onnx/`; never the model folder (it may be read-only). Default: `$TMPDIR/emb-onnx`. Not "
        "writable: torch serves.",
    )
