"""How many tokens one forward pass may hold, planned from the loaded model's shape and the memory left free.

Pure arithmetic (no torch): the handler reads the numbers (config, dtype, free device memory after the weights
are loaded: handlers/memory.py) and the engine caps the batcher's token budget with the result.

The estimate, for one inference forward pass (no gradients, SDPA attention: memory-efficient / flash kernels,
so attention holds no ``heads x length x length`` score matrix), in bytes per padded token of a batch whose
longest sequence has ``width`` tokens::

    bytes_per_token = e * (4h + 2d + max(attention, mlp)) + V * (e + 4) + width * (2 + 2e)
    attention = (5H + 3K) * d + h        mlp = 3i + h

with ``e`` the weights' dtype bytes, ``h`` the hidden size, ``i`` the MLP's intermediate size, ``H`` / ``K`` the
query / key-value heads, ``d`` the head size (``h / H`` unless the config says), ``V`` the vocabulary (only where
the forward materialises logits for every token; 0 otherwise). Assumptions, each rounding up:

- Only one layer's activations are alive at a time (no ``output_hidden_states``, no KV cache), beside the
  hidden states the model keeps: the embeddings, the layer's input (held by the layer loop), the residual and
  the normed input (``4h``), and the rotary cos / sin (``2d``); plus the larger of the layer's two blocks.
- Attention: q, k, v; their rotary-embedded copies; k and v repeated for every query head (grouped-query
  attention without native GQA in SDPA); the attention output; the output projection's result.
- MLP: gated (SwiGLU: gate, up and their product alive together); a plain GELU MLP needs ``i`` less.
- Logits, where kept for every token, in the dtype and once more as float32.
- The attention mask of a padded batch is materialised once per pass as ``batch x width x width`` booleans
  (transformers' ``sdpa_mask``), and each layer's SDPA call makes its negation and an additive float copy
  (and another when the width is not a multiple of 16): ``2 + 2e`` bytes per (query, key) pair, ``width`` pairs
  per token. It grows with the width, so a budget planned at the model's max length holds for any shorter batch.
  (A single unpadded sequence of a causal model needs no mask at all: ``is_causal``.)

Checked against the CPU profiler's peak (torch.profiler, profile_memory) on small Qwen3 and BERT models in float32
and bfloat16, batches of 1 x 2048 to 8 x 256 padded tokens: the estimate was 1.1x to 3.8x the measured peak,
never below it (the mask term is the loosest). Not yet measured on a GPU.

The tokens one pass may hold are what is usable of the free memory (less a ``HEADROOM`` share, at least
``HEADROOM_MIN_BYTES``, for the allocator's fragmentation, cuBLAS workspaces and kernels' scratch, and any fixed
``reserve`` a handler names) divided by ``bytes_per_token`` at the model's max length. A host where even one
max-length sequence does not fit refuses the model at load (``ContextTooLongError``), naming the longest length
that fits: the first long request would otherwise fail with out-of-memory however the batch is split.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import HostUnfitError

HEADROOM = 0.2  # share of the free memory never planned for
HEADROOM_MIN_BYTES = 512 * 1024**2
GIB = 1024**3


class ContextTooLongError(HostUnfitError):
    """Not even one sequence of the model's max length fits in the memory free after loading (written for
    whoever deploys the server: numbers and the setting to change, no paths)."""


@dataclass(frozen=True, slots=True)
class ModelShape:
    """The numbers of a transformer's config that size its activations."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    dtype_bytes: int
    vocab: int = 0  # only where the forward materialises logits for every token

    def linear_bytes_per_token(self) -> int:
        """Bytes per token that do not depend on the batch's width."""
        attention = (5 * self.heads + 3 * self.kv_heads) * self.head_dim + self.hidden
        mlp = 3 * self.intermediate + self.hidden
        resident = 4 * self.hidden + 2 * self.head_dim
        return self.dtype_bytes * (resident + max(attention, mlp)) + self.vocab * (self.dtype_bytes + 4)

    def mask_bytes_per_pair(self) -> int:
        """Bytes of the attention mask per (query, key) pair: booleans, their negation, two additive copies."""
        return 2 + 2 * self.dtype_bytes

    def bytes_per_token(self, width: int) -> int:
        """Peak activation bytes per padded token of a pass whose longest sequence has ``width`` tokens."""
        return self.linear_bytes_per_token() + width * self.mask_bytes_per_pair()

    def longest_fitting(self, usable: int) -> int:
        """The longest single sequence whose pass fits in ``usable`` bytes (0 when not even one token does)."""
        a, m = self.linear_bytes_per_token(), self.mask_bytes_per_pair()
        length = max(0, (math.isqrt(a * a + 4 * m * max(usable, 0)) - a) // (2 * m))
        while length > 0 and length * self.bytes_per_token(length) > usable:
            length -= 1
        while (length + 1) * self.bytes_per_token(length + 1) <= usable:
            length += 1
        return length


def _first(values: Mapping[str, Any], *names: str) -> int | None:
    for name in names:
        value = values.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def shape_from_config(values: Mapping[str, Any], dtype_bytes: int, logits: bool = False) -> ModelShape | None:
    """The shape of a Hugging Face ``config.json`` (its ``to_dict()``), or of its ``text_config`` when the top
    level has none; None when the hidden size, layers or heads are missing (a model this plan cannot size).
    ``logits``: the forward keeps logits over the vocabulary for every token."""
    hidden = _first(values, "hidden_size", "d_model", "n_embd")
    layers = _first(values, "num_hidden_layers", "n_layer", "num_layers")
    heads = _first(values, "num_attention_heads", "n_head")
    if hidden is None or layers is None or heads is None:
        nested = values.get("text_config")
        return shape_from_config(nested, dtype_bytes, logits) if isinstance(nested, Mapping) else None
    return ModelShape(
        hidden=hidden,
        intermediate=_first(values, "intermediate_size", "ffn_dim", "n_inner") or 4 * hidden,
        layers=layers,
        heads=heads,
        kv_heads=_first(values, "num_key_value_heads") or heads,
        head_dim=_first(values, "head_dim") or hidden // heads,
        dtype_bytes=dtype_bytes,
        vocab=(_first(values, "vocab_size") or 0) if logits else 0,
    )


@dataclass(frozen=True, slots=True)
class MemoryPlan:
    """What one forward pass may hold on this device, and the numbers it came from."""

    model_bytes: int
    free_bytes: int
    usable_bytes: int
    width: int  # the longest sequence a pass holds: the model's max length
    bytes_per_token: int  # at ``width``
    tokens: int  # padded tokens one pass may hold

    def describe(self) -> str:
        return (
            f"{self.tokens:,} tokens per forward pass: {_gib(self.usable_bytes)} GiB usable of "
            f"{_gib(self.free_bytes)} GiB free after {_gib(self.model_bytes)} GiB of weights, "
            f"{self.bytes_per_token:,} bytes per token at {self.width:,} tokens"
        )


def _gib(n: int) -> str:
    return f"{n / GIB:.2f}"


def usable_bytes(free_bytes: int, reserve: int = 0) -> int:
    """What a forward pass may use of ``free_bytes``: less the headroom and ``reserve``."""
    return max(0, free_bytes - max(int(free_bytes * HEADROOM), HEADROOM_MIN_BYTES) - reserve)


@dataclass(frozen=True)
class DeviceShare:
    """A model's share of the device when several models share it (model sets: api/model_router.py): the bytes of
    the weights still to be loaded after it, and how many models' forward passes may run at once."""

    later_weight_bytes: int = 0
    models: int = 1


ALONE = DeviceShare()
_share = ALONE  # set around each model's load by the set's loader (one loading thread), read by handlers/memory.py


def current_share() -> DeviceShare:
    return _share


@contextmanager
def device_share(share: DeviceShare) -> Iterator[None]:
    """Plan the models loaded inside this block for ``share`` of the device."""
    global _share
    previous, _share = _share, share
    try:
        yield
    finally:
        _share = previous


def plan_memory(shape: ModelShape, *, model_bytes: int, free_bytes: int, width: int, reserve: int = 0,
                share: DeviceShare = ALONE) -> MemoryPlan:  # fmt: skip
    """The plan for passes of at most ``width`` tokens per sequence (the model's max length) in ``free_bytes``
    (free device memory with the weights loaded); ``ContextTooLongError`` when one such sequence does not fit.
    With ``share``, the weights still to load are reserved and the rest split between the models."""
    usable = usable_bytes(free_bytes, reserve + share.later_weight_bytes) // share.models
    per_token = shape.bytes_per_token(width)
    plan = MemoryPlan(model_bytes, free_bytes, usable, width, per_token, usable // per_token)
    if plan.tokens < width:
        fits = shape.longest_fitting(usable)
        advice = (
            f"set EMB_MAX_LENGTH={fits} or less, or use a device with more memory"
            if fits
            else "use a device with more memory (or EMB_DTYPE=float16 / bfloat16 where the model runs in float32)"
        )
        raise ContextTooLongError(
            f"one {width:,}-token input does not fit in accelerator memory: it needs {_gib(width * per_token)} GiB "
            f"({per_token:,} bytes per token at that length) but {_gib(usable)} GiB are usable of "
            f"{_gib(free_bytes)} GiB free after the model's {_gib(model_bytes)} GiB of weights"
            + (f" ({_gib(share.later_weight_bytes)} GiB kept for the weights of the models still to load, the rest "
               f"shared by {share.models} models)" if share != ALONE else "")
            + f"; {advice}"
        )
    return plan


def batch_token_budget(configured: int, max_length: int, planned: int | None) -> int:
    """The batcher's padded-token budget: ``EMB_MAX_BATCH_TOKENS``, capped by the memory plan where there is
    one, and never below one sequence of the model's max length (which the plan, when made, admitted)."""
    budget = configured if planned is None else min(configured, planned)
    return max(budget, max_length)
