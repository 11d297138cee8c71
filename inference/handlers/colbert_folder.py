"""Late-interaction (ColBERT-style) model folders: how to recognise one, and what it declares (JSON only).

Two layouts are served, read the way Sentence Transformers 6's ``MultiVectorEncoder`` reads them (the reference):

* PyLate's (jina-colbert-v2 is one): ``modules.json`` lists a Transformer and ``pylate.models.Dense.Dense``;
  ``config_sentence_transformers.json`` carries ``query_prefix`` / ``document_prefix`` (marker tokens, prepended
  to the text as the ``query`` / ``document`` prompts and registered as special tokens when the tokenizer would
  split them), ``query_length`` / ``document_length``, ``do_query_expansion`` / ``attend_to_expansion_tokens``
  (queries padded with the mask token to ``query_length``) and ``skiplist_words`` (punctuation when absent).
* Sentence Transformers 6's own save: Transformer (``query_length``, ``document_length`` and ``query_expansion``
  ``{strategy, attend, token, length}`` in ``sentence_bert_config.json``), Dense, ``MultiVectorMask``
  (``skiplist_words``, ``skiplist_tasks``, ``keep_only_token_ids``) and a token-level Normalize.

Widths: ``truncate_dim`` (config_sentence_transformers.json) is the default output width (the reference cuts and
re-normalises to it); ``matryoshka_dimensions`` (config.json, as Jina declares it, or
config_sentence_transformers.json) lists the narrower widths the model was trained for.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .st_config import ModelFolderError

_TRANSFORMER_CONFIGS = ("sentence_bert_config.json", "sentence_roberta_config.json", "sentence_xlm-roberta_config.json",
                        "sentence_distilbert_config.json", "sentence_camembert_config.json",
                        "sentence_albert_config.json", "sentence_xlnet_config.json")  # fmt: skip
# Legacy top-level keys that mark a PyLate save (and flow into the Transformer's settings).
_PYLATE_MARKERS = ("query_length", "document_length", "query_expansion", "do_query_expansion",
                   "attend_to_expansion_tokens", "attend_to_mask_tokens", "query_prefix", "document_prefix",
                   "skiplist_words")  # fmt: skip
SIMILARITIES = ("maxsim", "meanmaxsim")
DEFAULT_ACTIVATION = "torch.nn.modules.activation.Tanh"  # ST's Dense default, also for untrusted activation paths


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ModelFolderError(f"cannot read {path}: {err}") from err


def _read_optional(path: Path) -> dict[str, Any]:
    data = _read(path) if path.is_file() else {}
    return data if isinstance(data, dict) else {}


def is_late_interaction(folder: Path) -> bool:
    """True for a PyLate or Sentence Transformers multi-vector folder."""
    try:
        entries = _read(folder / "modules.json") if (folder / "modules.json").is_file() else []
        model_type = _read_optional(folder / "config_sentence_transformers.json").get("model_type")
    except ModelFolderError:
        return False
    types = [str(entry.get("type", "")) for entry in entries if isinstance(entry, dict)]
    marked = any(kind.startswith("pylate.") or kind.endswith(".MultiVectorMask") for kind in types)
    return marked or (bool(types) and model_type in ("ColBERT", "MultiVectorEncoder"))


@dataclass(frozen=True)
class DenseLayer:
    """One projection: ``activation(linear(x))`` (+ ``x`` or its own projection when ``residual``)."""

    path: Path
    in_features: int
    out_features: int
    bias: bool
    activation: str  # a torch.nn class path
    residual: bool


@dataclass(frozen=True)
class QueryExpansion:
    """``fixed``: every query exactly ``length`` tokens; ``min``: at least ``length``. Pads become ``token``
    (the mask token when None); ``attend``: whether the encoder attends to them (their vectors always count)."""

    strategy: str
    attend: bool
    token: str | None
    length: int


@dataclass(frozen=True)
class ScoringMask:
    """MultiVectorMask: which token vectors are returned besides padding."""

    skiplist_words: tuple[str, ...] = ()
    skiplist_tasks: tuple[str, ...] = ("document",)
    keep_only_token_ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ColbertFolder:
    transformer_dir: Path
    dense: tuple[DenseLayer, ...]
    normalize: bool
    mask: ScoringMask
    prompts: dict[str, str]  # named prompts; ``query`` / ``document`` are prepended by input type
    markers: tuple[str, ...]  # PyLate prefixes: registered as special tokens where the tokenizer splits them
    query_length: int | None
    document_length: int | None
    expansion: QueryExpansion | None
    max_seq_length: int | None
    do_lower_case: bool
    truncate_dim: int | None
    matryoshka_dimensions: tuple[int, ...]
    similarity: str = "maxsim"

    def widths(self, full: int) -> tuple[int, tuple[int, ...]]:
        """(served width, the widths a request may ask for, served first): ``truncate_dim`` when set, else
        ``full``; narrower ``matryoshka_dimensions`` follow, widest first."""
        served = self.truncate_dim or full
        if served > full or served < 1:
            raise ModelFolderError(f"truncate_dim={self.truncate_dim} is not within the model's width {full}")
        narrower = sorted({width for width in self.matryoshka_dimensions if 0 < width < served}, reverse=True)
        return served, (served, *narrower)


def _dense(path: Path) -> DenseLayer:
    config = _read(path / "config.json")
    activation = str(config.get("activation_function") or DEFAULT_ACTIVATION)
    if not activation.startswith("torch."):
        activation = DEFAULT_ACTIVATION
    return DenseLayer(path, int(config["in_features"]), int(config["out_features"]), bool(config.get("bias", True)),
                      activation, bool(config.get("use_residual", False)))  # fmt: skip


def _mask(config: dict[str, Any]) -> ScoringMask:
    tasks = config.get("skiplist_tasks")
    keep = config.get("keep_only_token_ids")
    return ScoringMask(
        skiplist_words=tuple(config.get("skiplist_words") or ()),
        skiplist_tasks=(tasks,) if isinstance(tasks, str) else tuple(tasks if tasks is not None else ("document",)),
        keep_only_token_ids=tuple(int(i) for i in keep) if keep else None,
    )


def _expansion(value: Any) -> QueryExpansion | None:
    if value is None:
        return None
    strategy, length, attend = value.get("strategy"), value.get("length"), value.get("attend", False)
    if strategy not in ("fixed", "min") or not isinstance(length, int) or length < 1 or not isinstance(attend, bool):
        raise ModelFolderError(f"unusable query_expansion {value!r}")
    return QueryExpansion(strategy, attend, value.get("token"), length)


def _legacy_knobs(meta: dict[str, Any]) -> dict[str, Any]:
    """The Transformer settings a PyLate save keeps at the top level, translated to the current keys."""
    knobs: dict[str, Any] = {key: meta[key] for key in ("query_length", "document_length", "query_expansion")
             if key in meta and (meta[key] is not None or key == "query_expansion")}  # fmt: skip
    if "query_expansion" not in knobs and any(key in meta for key in _PYLATE_MARKERS):
        if meta.get("do_query_expansion") is False:
            knobs["query_expansion"] = None
        else:
            attend = meta.get("attend_to_expansion_tokens", meta.get("attend_to_mask_tokens"))
            length = knobs.pop("query_length", None) or meta.get("query_length") or 32
            knobs["query_expansion"] = {"strategy": "fixed", "attend": bool(attend), "length": length}
    return knobs


def _prompts(meta: dict[str, Any]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Named prompts, with PyLate's ``query_prefix`` / ``document_prefix`` composed in front; and those prefixes."""
    prompts = {str(k): v for k, v in (meta.get("prompts") or {}).items()}
    markers = []
    for key, role in (("query_prefix", "query"), ("document_prefix", "document")):
        if key in meta:
            prefix = meta[key] or ""
            markers.append(prefix)
            prompts[role] = prefix + (prompts.get(role) or "").removeprefix(prefix)
    return {name: str(text) for name, text in prompts.items() if text is not None}, tuple(markers)


def _modules(folder: Path) -> tuple[Path, list[DenseLayer], ScoringMask | None, bool]:
    """modules.json: the Transformer's folder, the projections, the scoring mask and whether tokens are normalised."""
    transformer_dir: Path | None = None
    dense: list[DenseLayer] = []
    mask: ScoringMask | None = None
    normalize = False
    for entry in _read(folder / "modules.json"):
        kind, path = str(entry.get("type", "")).rsplit(".", 1)[-1], folder / str(entry.get("path", ""))
        if kind == "Transformer" and transformer_dir is None:
            transformer_dir = path
        elif kind == "Dense":
            dense.append(_dense(path))
        elif kind == "MultiVectorMask":
            mask = _mask(_read_optional(path / "config.json"))
        elif kind == "Normalize":
            normalize = normalize or _read_optional(path / "config.json").get("module_input_name") == "token_embeddings"
        elif kind != "Pooling":  # a converted SentenceTransformer's pooling is dropped, as the reference drops it
            raise ModelFolderError(f"unsupported multi-vector module {entry.get('type')!r} in {folder}")
    if transformer_dir is None:
        raise ModelFolderError(f"{folder}/modules.json names no Transformer module")
    return transformer_dir, dense, mask, normalize


def _appended_mask(
    folder: Path, meta: dict[str, Any], markers: tuple[str, ...], dense: list[DenseLayer]
) -> ScoringMask:
    """PyLate <= 3 and converted saves list no MultiVectorMask: the reference appends one (and a Normalize), with
    PyLate's punctuation skip-list unless the save names its own."""
    model_type = meta.get("model_type")
    if model_type not in (None, "SentenceTransformer", "ColBERT"):
        raise ModelFolderError(f"{folder} has no MultiVectorMask module")
    if not dense:
        raise ModelFolderError(f"{folder} has no trained projection (Dense module) for its token vectors")
    words = meta.get("skiplist_words")
    if words is None:
        words = list(string.punctuation) if model_type == "ColBERT" or markers else []
    return ScoringMask(skiplist_words=tuple(words))


def read_colbert_folder(folder: Path) -> ColbertFolder:
    """What the folder declares; ``ModelFolderError`` for modules the reference would not load as trained."""
    meta = _read_optional(folder / "config_sentence_transformers.json")
    transformer_dir, dense, mask, normalize = _modules(folder)
    prompts, markers = _prompts(meta)
    if mask is None:
        mask, normalize = _appended_mask(folder, meta, markers, dense), True
    settings = {**_legacy_knobs(meta), **_transformer_config(transformer_dir)}
    query_length = settings.get("query_length")
    query_expansion = _expansion(settings.get("query_expansion"))
    if query_expansion and query_length is not None and query_length < query_expansion.length:
        raise ModelFolderError(f"query_length={query_length} is below the query expansion length")
    similarity = str(meta.get("similarity_fn_name") or "maxsim")
    hf_config = _read_optional(transformer_dir / "config.json")
    declared = hf_config.get("matryoshka_dimensions") or meta.get("matryoshka_dimensions") or ()
    return ColbertFolder(
        transformer_dir=transformer_dir, dense=tuple(dense), normalize=normalize, mask=mask, prompts=prompts,
        markers=markers, query_length=query_length, document_length=settings.get("document_length"),
        expansion=query_expansion, max_seq_length=settings.get("max_seq_length"),
        do_lower_case=bool(settings.get("do_lower_case")), truncate_dim=meta.get("truncate_dim"),
        matryoshka_dimensions=tuple(int(width) for width in declared),
        similarity=similarity if similarity in SIMILARITIES else "maxsim",
    )  # fmt: skip


def _transformer_config(transformer_dir: Path) -> dict[str, Any]:
    """The Transformer module's own settings (they win over PyLate's top-level ones)."""
    for name in _TRANSFORMER_CONFIGS:
        if (transformer_dir / name).is_file():
            return _read_optional(transformer_dir / name)
    return {}
