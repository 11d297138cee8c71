"""The playground's views for every model kind in a real Chromium against real servers: the tokenizer's tokens and
segments (every kind), zero-shot labels (an embedding model), token vectors and a MaxSim ranking (a tiny
late-interaction model), label bars (a tiny multi-label classifier) and top-weight bars (a tiny SPLADE model), each
checked against the API's answer."""

from __future__ import annotations

import numpy as np
import pytest
import requests

from tests.browser.conftest import artifacts_dir
from tests.browser.helpers import (
    By,
    console_problems,
    full_page_screenshot,
    inputs,
    open_playground,
    run,
    set_text,
    text_of,
)
from tests.reliability.harness import Server, clean_env
from tests.tiny_classifiers import MULTI_LABELS, build_multi_label_classifier
from tests.tiny_colbert import QUERY_LENGTH, build_pylate_colbert
from tests.tiny_sparse import build_tiny_splade

pytestmark = pytest.mark.browser

# punctuation, an accent, CJK, a literal special token, and two paragraphs: several chunks at 6 tokens
TEXT = "Hello, world! Tokenization of Bühne [SEP] 東京.\n\nA second paragraph, cut into chunks."
MAXSIM_QUERY = "capital of france"
DOCUMENTS = ["paris is the capital of france!", "berlin is in germany.", "the river, in the city."]
CLASSIFY_INPUTS = ["hello world", "the river", "paris capital of france", "search engine vector query"]


def response(driver):
    return driver.execute_script("return window.lastResponse")


def request(driver):
    return driver.execute_script("return window.lastRequest")


def modes(driver) -> list[str]:
    return [tab.text for tab in driver.find_elements(By.CSS_SELECTOR, "#modes [role=tab]")]


def chips(driver, view: str) -> list[dict]:
    """The token chips of a view: their dataset (id, text, special, norm, index) and the shown texts."""
    return driver.execute_script(
        """
        return Array.from(document.querySelectorAll(`#${arguments[0]} .tok`)).map((chip) => ({
          ...chip.dataset, shown: chip.querySelector(".tok-text").textContent,
          below: chip.querySelector(".tok-id").textContent}));
        """,
        view,
    )


def rows(driver, selector: str) -> list[dict]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map((row) => ({...row.dataset,"
        " classes: row.className, text: row.textContent}));",
        selector,
    )


def keep_inputs(driver, texts: list[str]) -> None:
    """Exactly ``texts`` as the inputs (documents): extra ones removed, missing ones added."""
    items = driver.find_elements(By.CSS_SELECTOR, "#inputs .input-item")
    while len(items) > len(texts):
        items[-1].find_element(By.CSS_SELECTOR, "button[title=Remove]").click()
        items = driver.find_elements(By.CSS_SELECTOR, "#inputs .input-item")
    while len(inputs(driver)) < len(texts):
        driver.find_element(By.ID, "add-input").click()
    for field, text in zip(inputs(driver), texts, strict=True):
        set_text(field, text)


def test_tokenize_shows_the_tokenizers_tokens_and_segments(browser, wait, embed_server):
    from transformers import AutoTokenizer

    from inference.model_dir import embedded_model_dir

    tokenizer = AutoTokenizer.from_pretrained(str(embedded_model_dir()))
    open_playground(browser, wait, embed_server.url)
    assert modes(browser) == ["Embed", "Classify (zero-shot)", "Tokenize"]
    browser.find_element(By.ID, "mode-tokenize").click()
    assert browser.find_element(By.ID, "tokenize-text").is_displayed()
    assert not browser.find_element(By.ID, "inputs").is_displayed()
    assert not browser.find_element(By.ID, "heatmap").is_displayed()
    set_text(browser.find_element(By.ID, "tokenize-text"), TEXT)
    set_text(browser.find_element(By.ID, "max-chunk-length"), "6")
    assert "/tokenize" in text_of(browser, "snippet-curl")
    assert "no tokenize endpoint" in text_of(browser, "snippet-openai")

    run(browser, wait, canvas="tokens")
    encoded = tokenizer(TEXT, return_offsets_mapping=True)
    ids, added = encoded["input_ids"], tokenizer.get_special_tokens_mask(encoded["input_ids"],
                                                                          already_has_special_tokens=True)  # fmt: skip
    expected = [tokenizer.convert_ids_to_tokens(i) if is_added and start == stop == 0 else TEXT[start:stop]
                for i, is_added, (start, stop) in zip(ids, added, encoded["offset_mapping"], strict=True)]  # fmt: skip
    shown = chips(browser, "tokens")
    assert [int(chip["id"]) for chip in shown] == ids
    assert [chip["text"] for chip in shown] == expected
    assert [chip["below"] for chip in shown] == [str(i) for i in ids]  # the id under each token
    special = [chip["text"] for chip in shown if chip["special"] == "true"]
    assert special == ["[CLS]", "[SEP]", "[SEP]"]  # the literal [SEP] in the text is special too
    assert browser.find_element(By.ID, "token-count").text.startswith(f"{len(ids)} tokens (3 special)")
    assert browser.find_element(By.ID, "decoded").text == tokenizer.decode(ids, skip_special_tokens=True)
    assert [token["id"] for token in response(browser)[0]] == ids

    direct = requests.post(embed_server.url + "/v1/segment", timeout=60,
                           json={"content": TEXT, "return_chunks": True, "max_chunk_length": 6}).json()  # fmt: skip
    chunks = browser.find_elements(By.CSS_SELECTOR, "#segments .chunk")
    texts = [chunk.find_element(By.CSS_SELECTOR, ".chunk-text").get_attribute("textContent") for chunk in chunks]
    assert texts == direct["chunks"] and "".join(texts) == TEXT and len(texts) > 2
    counts = [int(chunk.get_attribute("data-tokens")) for chunk in chunks]
    assert counts == [len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in texts]
    assert all(count <= 6 for count in counts) and sum(counts) == direct["num_tokens"]
    assert f"{counts[0]} tokens" in chunks[0].text
    assert f"{direct['num_tokens']} tokens" in browser.find_element(By.ID, "segment-note").text
    full_page_screenshot(browser, artifacts_dir() / "playground-tokenize.png")

    browser.find_element(By.ID, "add-special-tokens").click()
    run(browser, wait, canvas="tokens")
    without = tokenizer(TEXT, add_special_tokens=False)["input_ids"]
    assert [int(chip["id"]) for chip in chips(browser, "tokens")] == without

    browser.find_element(By.ID, "mode-embed").click()  # back: the inputs, the heatmap, no segments
    assert not browser.find_element(By.ID, "segment-panel").is_displayed()
    assert browser.find_element(By.ID, "tokens").get_attribute("data-ready") == "false"
    assert run(browser, wait).get_attribute("data-size") == str(len(inputs(browser)))
    assert console_problems(browser) == []


def test_zero_shot_classify_on_an_embedding_model(browser, wait, embed_server):
    open_playground(browser, wait, embed_server.url)
    browser.find_element(By.ID, "mode-classify").click()
    assert browser.find_element(By.ID, "labels-text").is_displayed()
    assert not browser.find_element(By.ID, "model-labels").is_displayed()
    run(browser, wait, canvas="labels")
    sent = request(browser)
    assert sent["labels"] == ["music", "weather", "economy", "sports"]
    direct = requests.post(embed_server.url + "/v1/classify", json=sent, timeout=60).json()
    blocks = browser.find_elements(By.CSS_SELECTOR, "#labels .cls-input")
    assert len(blocks) == len(sent["input"]) == len(direct["data"])
    for block, item in zip(blocks, direct["data"], strict=True):
        shown = [(row.get_attribute("data-label"), float(row.get_attribute("data-score")))
                 for row in block.find_elements(By.CSS_SELECTOR, ".label-row")]  # fmt: skip
        assert [label for label, _ in shown] == sent["labels"]
        np.testing.assert_allclose([score for _, score in shown], [p["score"] for p in item["predictions"]],
                                   atol=1e-6)  # fmt: skip
        assert sum(score for _, score in shown) == pytest.approx(1, abs=1e-5)  # a softmax over the labels
        assert block.find_element(By.CSS_SELECTOR, ".label-row.predicted").get_attribute("data-label") == item[
            "prediction"]  # fmt: skip
    assert blocks[0].get_attribute("data-prediction") == "music"  # "A man is playing a guitar on stage."
    assert "invoke_endpoint cannot" in text_of(browser, "snippet-boto3")  # /invocations reads embeddings bodies
    assert console_problems(browser) == []


@pytest.fixture(scope="module")
def colbert_server(tmp_path_factory):
    """A tiny random PyLate ColBERT (16-dim token vectors, Matryoshka 16/8/4, query length 12)."""
    folder = build_pylate_colbert(tmp_path_factory.mktemp("tiny-colbert"), matryoshka=[16, 8, 4])
    with Server(clean_env(EMB_THREADS="8", MODEL_DIR=str(folder))) as server:
        server.wait_ready()
        yield server


def test_multi_vector_token_chips_and_maxsim_ranking(browser, wait, colbert_server):
    url = colbert_server.url
    open_playground(browser, wait, url)
    assert modes(browser) == ["Token vectors", "MaxSim rerank", "Tokenize"]
    facts = browser.find_element(By.ID, "model-facts").text
    assert f"{QUERY_LENGTH} tokens" in facts and "MaxSim" in facts and "16 (or 8, 4)" in facts
    keep_inputs(browser, DOCUMENTS)
    assert browser.find_element(By.ID, "input-type").get_attribute("value") == "document"
    assert "/v1/multi-vector" in text_of(browser, "snippet-curl")

    run(browser, wait, canvas="vectors")
    sent = request(browser)
    assert sent == {"input": DOCUMENTS, "input_type": "document", "normalized": True, "truncate": True}
    direct = requests.post(url + "/v1/multi-vector", json=sent, timeout=60).json()
    blocks = browser.find_elements(By.CSS_SELECTOR, "#vectors .mv-input")
    assert len(blocks) == len(DOCUMENTS)
    norms = browser.execute_script("return window.lastNorms")
    for i, item in enumerate(direct["data"]):
        vectors = np.array(item["embeddings"])
        assert int(blocks[i].get_attribute("data-count")) == len(vectors)
        np.testing.assert_allclose(norms[i], np.linalg.norm(vectors, axis=1), atol=1e-6)
    shown = chips(browser, "vectors")
    first = [chip["text"] for chip in shown[: int(blocks[0].get_attribute("data-count"))]]
    # the document marker, the words; no "!" (punctuation has no vector in a document)
    assert first == ["[CLS]", "[unused1]", "paris", "is", "the", "capital", "of", "france", "[SEP]"]
    assert all(float(chip["below"]) == pytest.approx(1, abs=1e-3) for chip in shown)  # normalized
    assert "punctuation" in browser.find_element(By.ID, "chart-note").text
    full_page_screenshot(browser, artifacts_dir() / "playground-multivector.png")

    Select = pytest.importorskip("selenium.webdriver.support.select").Select
    Select(browser.find_element(By.ID, "input-type")).select_by_value("query")
    Select(browser.find_element(By.ID, "mv-dimensions")).select_by_value("8")
    keep_inputs(browser, [MAXSIM_QUERY])
    run(browser, wait, canvas="vectors")
    assert request(browser)["dimensions"] == 8 and request(browser)["input_type"] == "query"
    embeddings = response(browser)["data"][0]["embeddings"]
    assert len(embeddings) == QUERY_LENGTH and len(embeddings[0]) == 8
    texts = [chip["text"] for chip in chips(browser, "vectors")]
    assert texts[:6] == ["[CLS]", "[unused0]", "capital", "of", "france", "[SEP]"]
    assert texts[6:] == ["[MASK]"] * (QUERY_LENGTH - 6)  # query expansion up to the query length
    assert "[MASK]" in browser.find_element(By.ID, "chart-note").text

    browser.find_element(By.ID, "mode-maxsim").click()
    assert browser.find_element(By.ID, "query").is_displayed()
    set_text(browser.find_element(By.ID, "query"), MAXSIM_QUERY)
    keep_inputs(browser, DOCUMENTS)
    run(browser, wait, canvas="ranking")
    ranking = rows(browser, "#ranking .rank-row")
    direct = requests.post(url + "/v1/rerank", json=request(browser), timeout=60).json()["results"]
    assert [int(row["index"]) for row in ranking] == [result["index"] for result in direct]
    scores = [float(row["score"]) for row in ranking]
    assert scores == sorted(scores, reverse=True) and "best" in ranking[0]["classes"]
    np.testing.assert_allclose(scores, [result["relevance_score"] for result in direct], rtol=1e-5)

    # MaxSim of the token vectors: each query vector's best dot product with a document's vectors, summed
    def vectors(texts: list[str], input_type: str) -> list[np.ndarray]:
        body = {"input": texts, "input_type": input_type}
        data = requests.post(url + "/v1/multi-vector", json=body, timeout=60).json()["data"]
        return [np.array(item["embeddings"]) for item in data]

    query = vectors([MAXSIM_QUERY], "query")[0]
    docs = vectors(DOCUMENTS, "document")
    maxsim = [float((query @ doc.T).max(axis=1).sum()) for doc in docs]
    np.testing.assert_allclose(scores, [maxsim[int(row["index"])] for row in ranking], rtol=1e-4)
    assert DOCUMENTS[int(ranking[0]["index"])] in ranking[0]["text"]
    full_page_screenshot(browser, artifacts_dir() / "playground-maxsim.png")

    browser.find_element(By.ID, "mode-tokenize").click()
    run(browser, wait, canvas="tokens")  # the served tokenizer, for this kind too
    assert len(chips(browser, "tokens")) == len(response(browser)[0])
    assert console_problems(browser) == []


@pytest.fixture(scope="module")
def classifier_server(tmp_path_factory):
    """A tiny random multi-label BERT classifier (sports, politics, science, travel; sigmoid scores)."""
    folder = build_multi_label_classifier(tmp_path_factory.mktemp("tiny-classifier"))
    with Server(clean_env(EMB_THREADS="8", MODEL_DIR=str(folder))) as server:
        server.wait_ready()
        yield server


def test_classifier_label_bars_equal_the_api(browser, wait, classifier_server):
    url = classifier_server.url
    open_playground(browser, wait, url)
    assert modes(browser) == ["Classify", "Tokenize"]
    boxes = browser.find_elements(By.CSS_SELECTOR, "#model-labels .model-label")
    assert [box.get_attribute("value") for box in boxes] == list(MULTI_LABELS)
    assert all(box.is_selected() for box in boxes)
    assert not browser.find_element(By.ID, "labels-text").is_displayed()
    assert ", ".join(MULTI_LABELS) in browser.find_element(By.ID, "model-facts").text
    keep_inputs(browser, CLASSIFY_INPUTS)
    assert '"labels"' not in text_of(browser, "snippet-curl")  # every label: the field left out

    run(browser, wait, canvas="labels")
    assert request(browser) == {"input": CLASSIFY_INPUTS}
    direct = requests.post(url + "/v1/classify", json={"input": CLASSIFY_INPUTS}, timeout=60).json()["data"]
    blocks = browser.find_elements(By.CSS_SELECTOR, "#labels .cls-input")
    assert len(blocks) == len(direct)
    for block, item in zip(blocks, direct, strict=True):
        shown = block.find_elements(By.CSS_SELECTOR, ".label-row")
        assert [row.get_attribute("data-label") for row in shown] == list(MULTI_LABELS)
        for row, expected in zip(shown, item["predictions"], strict=True):
            assert float(row.get_attribute("data-score")) == pytest.approx(expected["score"], abs=1e-6)
            assert row.find_element(By.CSS_SELECTOR, ".label-score").text == f"{expected['score']:.4f}"
            width = browser.execute_script("return arguments[0].querySelector('.fill').style.width", row)
            assert float(width.removesuffix("%")) == pytest.approx(100 * expected["score"], abs=1e-3)
        predicted = block.find_elements(By.CSS_SELECTOR, ".label-row.predicted")
        assert [row.get_attribute("data-label") for row in predicted] == [item["prediction"]]
        assert f"→ {item['prediction']}" in block.text
    full_page_screenshot(browser, artifacts_dir() / "playground-classify.png")

    boxes[1].click()  # politics off: only the checked labels are asked for
    run(browser, wait, canvas="labels")
    assert request(browser)["labels"] == ["sports", "science", "travel"]
    labels = [row["label"] for row in rows(browser, "#labels .cls-input:first-child .label-row")]
    assert labels == ["sports", "science", "travel"]

    boxes[0].click()
    boxes[2].click()
    boxes[3].click()  # none checked: the server's 400, shown as the page shows every error
    browser.find_element(By.ID, "run").click()
    wait(lambda d: d.find_element(By.ID, "error").is_displayed(), "the 400 message")
    assert "HTTP 400" in browser.find_element(By.ID, "error").text
    assert all("400" in entry["message"] for entry in console_problems(browser))


SPARSE_INPUTS = ["paris is the capital of france", "x", "sparse lexical vectors for search"]


@pytest.fixture(scope="module")
def sparse_server(tmp_path_factory):
    """A tiny random SPLADE model (vocabulary 30522, a ``query`` prompt)."""
    folder = build_tiny_splade(tmp_path_factory.mktemp("tiny-splade") / "model", prompts={"query": "query: "})
    with Server(clean_env(EMB_THREADS="8", MODEL_DIR=str(folder))) as server:
        server.wait_ready()
        yield server


def test_sparse_top_entries_equal_the_api(browser, wait, sparse_server):
    url = sparse_server.url
    open_playground(browser, wait, url)
    assert modes(browser) == ["Sparse", "Tokenize"]
    assert "vocabulary30522 entries" in browser.find_element(By.ID, "model-facts").text.replace("\n", "")
    keep_inputs(browser, SPARSE_INPUTS)
    assert "/embed_sparse" in text_of(browser, "snippet-curl")

    run(browser, wait, canvas="sparse")
    assert request(browser) == {"inputs": SPARSE_INPUTS, "truncate": True}
    direct = requests.post(url + "/embed_sparse", json={"inputs": SPARSE_INPUTS, "truncate": True}, timeout=60).json()
    assert response(browser) == direct
    blocks = browser.find_elements(By.CSS_SELECTOR, "#sparse .sparse-input")
    assert len(blocks) == len(direct)
    hi = max(entry["value"] for entries in direct for entry in sorted(entries, key=lambda e: -e["value"])[:20])
    total = 0
    for block, entries in zip(blocks, direct, strict=True):
        assert block.get_attribute("data-nonzero") == str(len(entries)) and f"{len(entries)} nonzero" in block.text
        total += len(entries)
        top = sorted(entries, key=lambda entry: -entry["value"])[:20]
        shown = block.find_elements(By.CSS_SELECTOR, ".sparse-row")
        assert [int(row.get_attribute("data-index")) for row in shown] == [entry["index"] for entry in top]
        ids = [[entry["index"]] for entry in top]
        tokens = requests.post(url + "/decode", json={"ids": ids, "skip_special_tokens": False}, timeout=60).json()
        for row, entry, token in zip(shown, top, tokens, strict=True):
            assert float(row.get_attribute("data-value")) == pytest.approx(entry["value"], abs=1e-6)
            assert row.get_attribute("data-token") == token
            assert row.find_element(By.CSS_SELECTOR, ".label-name").text == (token or f"#{entry['index']}").strip()
            assert row.find_element(By.CSS_SELECTOR, ".label-score").text == f"{entry['value']:.4f}"
            width = browser.execute_script("return arguments[0].querySelector('.fill').style.width", row)
            assert float(width.removesuffix("%")) == pytest.approx(100 * entry["value"] / hi, abs=1e-3)
    assert text_of(browser, "usage") == f"{total} nonzero entries"
    full_page_screenshot(browser, artifacts_dir() / "playground-sparse.png")

    select = browser.find_element(By.ID, "prompt-name")
    assert select.is_displayed()
    browser.execute_script("arguments[0].value = 'query'; arguments[0].dispatchEvent(new Event('change'))", select)
    run(browser, wait, canvas="sparse")
    assert request(browser) == {"inputs": SPARSE_INPUTS, "truncate": True, "prompt_name": "query"}
    with_prompt = requests.post(url + "/embed_sparse", json=request(browser), timeout=60).json()
    assert response(browser) == with_prompt and with_prompt != direct
    assert not console_problems(browser)
