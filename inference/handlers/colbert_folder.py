"""Late-interaction (ColBERT-style) model folders: how to recognise one, and what it declares.

Two layouts are served: PyLate's (``modules.json`` with ``pylate.models.Dense``, and ``query_prefix`` /
``document_prefix`` / ``query_length`` / ``document_length`` / ``do_query_expansion`` /
``attend_to_expansion_tokens`` / ``skiplist_words`` in ``config_sentence_transformers.json``; jina-colbert-v2 is
one) and Sentence Transformers 6's multi-vector encoder (``MultiVectorMask`` in ``modules.json``).
"""

from __future__ import annotations

import json
from pathlib import Path


def is_late_interaction(folder: Path) -> bool:
    """True for a PyLate or Sentence Transformers multi-vector folder."""
    modules = folder / "modules.json"
    if not modules.is_file():
        return False
    try:
        entries = json.loads(modules.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    types = [str(entry.get("type", "")) for entry in entries if isinstance(entry, dict)]
    return any(kind.startswith("pylate.") or kind.endswith(".MultiVectorMask") for kind in types)
