"""Classification over real HTTP: a real server process (gunicorn, what `make serve MODEL_DIR=...` runs) on a
tiny random multi-label classifier folder answers TEI's /predict, Infinity's /classify, Jina's /v1/classify and
/invocations with the scores of transformers' text-classification pipeline on the same folder (1e-5)."""

from __future__ import annotations

import pytest
import requests
from transformers import pipeline

from marketplace.local_server import local_server
from tests.tiny_classifiers import MULTI_LABELS, build_multi_label_classifier

TEXTS = ["paris is the capital of france", "hello world " * 30]  # the second is over the max length: cut
PAIR = ["best answer", "search engine vector query"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_multi_label_classifier(tmp_path_factory.mktemp("classifier"))


@pytest.fixture(scope="module")
def server(folder):
    with local_server({"MODEL_DIR": str(folder), "EMB_WORKERS": "2"}) as url:
        yield url


@pytest.fixture(scope="module")
def expected(folder):
    pipe = pipeline("text-classification", model=str(folder), top_k=None, device="cpu")
    answers = pipe([*TEXTS, {"text": PAIR[0], "text_pair": PAIR[1]}], truncation=True)
    return [{item["label"]: item["score"] for item in answer} for answer in answers]


def post(server, path, body):
    reply = requests.post(f"{server}{path}", json=body, timeout=60)
    assert reply.status_code == 200, reply.text
    return reply.json()


def scores_of(items):
    return {item["label"]: item["score"] for item in items}


def test_predict_classify_and_v1_classify_equal_the_pipeline(server, expected):
    batch = post(server, "/predict", {"inputs": [[TEXTS[0]], [TEXTS[1]], PAIR], "truncate": True})
    infinity = post(server, "/classify", {"input": TEXTS})["data"]
    jina = [entry["predictions"] for entry in post(server, "/v1/classify", {"input": TEXTS})["data"]]
    invoked = post(server, "/invocations", {"inputs": PAIR})
    for got, want in [*zip(batch, expected, strict=True), *zip(infinity, expected, strict=False),
                      *zip(jina, expected, strict=False), (invoked, expected[2])]:  # fmt: skip
        assert set(scores_of(got)) == set(MULTI_LABELS)
        for label, score in scores_of(got).items():
            assert score == pytest.approx(want[label], abs=1e-5)
