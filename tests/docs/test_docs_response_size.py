"""The texts-per-request table of docs/api/embeddings.md ("Response size") and the numbers the guides and the
Marketplace listing quote are the server's own bounds (inference/endpoints/response_size.py)."""

from __future__ import annotations

import json
import re

import pytest

from inference.core.types import ModelInfo
from inference.endpoints.embeddings.endpoint import EmbeddingsEndpoint
from inference.endpoints.rerank.endpoint import RerankEndpoint
from inference.endpoints.response_size import response_bound
from inference.endpoints.vertex import VertexEndpoint
from inference.mime import JSON
from tests.conftest import make_settings
from tests.docs.docs_pages import DOCS, REPO

MAX_INPUTS = 2048
# The table's columns: (where, limit in bytes, type).
COLUMNS = [("sagemaker", 6_000_000, "float"), ("sagemaker", 6_000_000, "base64"),
           ("sagemaker", 4_000_000, "float"), ("sagemaker", 4_000_000, "base64"),
           ("vertex", 1_500_000, "float"), ("vertex", 1_500_000, "base64"),
           ("vertex", 10_000_000, "float"), ("vertex", 10_000_000, "base64")]  # fmt: skip


class _Service:
    def default_deadline(self) -> float:
        return 0.0


def fitting(where: str, limit: int, kind: str, dims: int) -> int:
    """How many of 2048 texts of ``kind`` with ``dims`` dimensions the server lets through ``limit``."""
    native = EmbeddingsEndpoint(_Service(), make_settings(max_inputs=MAX_INPUTS, record_options={}))
    info = ModelInfo("all-MiniLM-L6-v2", dims, 512)
    if where == "vertex":
        body = {"instances": ["x"] * MAX_INPUTS, "parameters": {"embedding_type": kind}}
        parsed = VertexEndpoint(native, RerankEndpoint(_Service()), None, lambda: "embed", MAX_INPUTS).parse(
            json.dumps(body).encode(), JSON, None)  # fmt: skip
    else:
        parsed = native.parse(json.dumps({"input": ["x"] * MAX_INPUTS, "embedding_type": kind}).encode(), JSON, None)
    return min(MAX_INPUTS, response_bound(parsed, info, limit).fitting(limit))


def table_rows() -> dict[int, list[int]]:
    page = (DOCS / "api" / "embeddings.md").read_text(encoding="utf-8")
    section = page.split("## Response size", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \|((?: \d+ \|)+)$", section, flags=re.M)
    return {int(dims): [int(cell) for cell in cells.split("|") if cell.strip()] for dims, cells in rows}


def test_the_table_is_the_servers_bound():
    rows = table_rows()
    assert sorted(rows) == [384, 768, 1024]
    for dims, cells in rows.items():
        assert cells == [fitting(where, limit, kind, dims) for where, limit, kind in COLUMNS], dims


@pytest.mark.parametrize("path", ["marketplace/listing/usage.md", "marketplace/listing/description.md"])
def test_the_listing_quotes_the_same_numbers(path):
    """The listing's model has 384 dimensions: all 2048 texts fit as base64, 912 as float."""
    text = " ".join((REPO / path).read_text(encoding="utf-8").split())
    base64, floats = fitting("sagemaker", 6_000_000, "base64", 384), fitting("sagemaker", 6_000_000, "float", 384)
    assert (base64, floats) == (2048, 912)
    assert re.search(rf"{base64} (texts per request )?with `base64`[^.|]* {floats} with `float`", text), path
