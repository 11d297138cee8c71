"""What a parsed request reserves against its caller's rate limits (inference/endpoints/demand.py): one request
per body or per record, and a lower bound of its tokens (never above the usage the real tokenizer gives)."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from inference.endpoints.demand import Demand, demand
from inference.endpoints.embeddings.endpoint import Parsed
from inference.endpoints.embeddings.records import RecordDefaults, decode_records
from inference.endpoints.embeddings.schema import parse_embeddings_request
from inference.endpoints.rerank.endpoint import ParsedRerank
from inference.endpoints.rerank.records import decode_rerank_records
from inference.endpoints.rerank.schema import parse_rerank_request
from inference.endpoints.vertex import VertexParsed
from inference.mime import CSV, JSON, JSONLINES

MAX = 512


def embed(body: dict) -> Parsed:
    return Parsed(parse_embeddings_request(body, max_inputs=2048), JSON)


def records(body: bytes, mime: str = JSONLINES) -> Parsed:
    return Parsed(decode_records(body, mime, RecordDefaults({}, max_inputs=2048)), JSONLINES)


def test_a_json_body_is_one_request_with_its_words() -> None:
    assert demand(embed({"input": ["hello world", "a second text"]}), MAX) == Demand(1, 5)
    assert demand(embed({"input": "x " * 1000}), MAX) == Demand(1, MAX)  # cut at the model's maximum
    assert demand(embed({"input": [{"image": "https://example.com/a.png"}, "two words"]}), MAX) == Demand(1, 3)


def test_late_chunking_counts_one_sequence() -> None:
    body = {"input": ["word " * 400, "word " * 400], "late_chunking": True}
    assert demand(embed(body), MAX) == Demand(1, MAX)
    assert demand(embed({**body, "late_chunking": False}), MAX) == Demand(1, 800)


def test_records_count_one_request_each() -> None:
    lines = b'"first text"\n{"text": "second"}\n{"id": 7, "input": "the third one"}\n'
    assert demand(records(lines), MAX) == Demand(3, 6)
    jina_rows = b'a,"[""one two"", ""three""]","{}"\nb,"[""four""]",\nfive six seven\n'
    assert demand(records(jina_rows, CSV), MAX) == Demand(3, 7)  # a Jina row is one record, whatever its inputs
    late = b'{"input": "one two", "late_chunking": true}\n{"input": "' + b"w " * 600 + b'", "late_chunking": true}\n'
    assert demand(records(late), MAX) == Demand(2, 2 + MAX)


def test_rerank_pairs_and_records() -> None:
    call = parse_rerank_request({"query": "what is it", "documents": ["a doc", "another longer doc"]})
    assert demand(ParsedRerank(call, JSON), MAX) == Demand(1, 3 + 2 + 3 + 3)  # each pair: query + document
    lines = b'{"query": "q", "documents": ["d e"]}\n{"query": "q", "documents": ["d", "e"]}\n'
    assert demand(ParsedRerank(decode_rerank_records(lines, JSONLINES), JSONLINES), MAX) == Demand(2, 3 + 4)
    long = parse_rerank_request({"query": "q " * 300, "documents": ["d " * 300]})
    assert demand(ParsedRerank(long, JSON), MAX) == Demand(1, MAX)  # a pair is cut at the model's maximum


def test_vertex_bodies_count_their_calls() -> None:
    instances = tuple(ParsedRerank(parse_rerank_request({"query": "q", "documents": ["d"]}), JSON) for _ in range(3))
    assert demand(VertexParsed(instances, predictions=True), MAX) == Demand(3, 6)  # one request per instance
    assert demand(VertexParsed((embed({"input": ["a b", "c"]}),), predictions=True), MAX) == Demand(1, 3)


@pytest.mark.parametrize("text", ["The quick brown fox jumps over the lazy dog.", "Embeddings map text to vectors.",
                                  "naïve café — 東京 emoji 🙂 tabs\tand  spaces", "x", "  padded  "])
def test_the_estimate_never_exceeds_the_real_usage(text: str, minilm_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_dir))
    usage = len(tokenizer(text, truncation=True, max_length=MAX)["input_ids"])
    assert demand(embed({"input": text}), MAX).tokens <= usage
