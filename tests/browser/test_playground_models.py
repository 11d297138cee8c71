"""The playground on a server of several models (docs/models/model-sets.md) in a real Chromium: a model picker, the
tabs of every served model's kind, each tab run on the chosen model (its name in the body's ``model``, or in the
``X-Model`` header for TEI's bodies), each answer equal to the API's for that model; with one model, no picker and
no model named beyond what the page always sent."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import requests

from tests.browser.conftest import artifacts_dir
from tests.browser.helpers import By, console_problems, full_page_screenshot, open_playground, run, text_of
from tests.reliability.harness import Server, clean_env
from tests.tiny_rerankers import build_tiny_bert_reranker
from tests.tiny_sparse import build_tiny_splade

pytestmark = pytest.mark.browser

MODELS = ["embedder (embed)", "reranker (rerank)", "splade (sparse)"]


@pytest.fixture(scope="module")
def set_server(tmp_path_factory):
    """The embedded all-MiniLM-L6-v2, a tiny random cross-encoder and a tiny random SPLADE model in one server."""
    from inference.model_dir import embedded_model_dir

    root = tmp_path_factory.mktemp("model-set")
    (root / "embedder").symlink_to(embedded_model_dir(), target_is_directory=True)
    build_tiny_bert_reranker(root / "reranker")
    splade = build_tiny_splade(tmp_path_factory.mktemp("tiny-splade") / "model")  # a sibling folder beside it
    (root / "splade").symlink_to(splade, target_is_directory=True)
    with Server(clean_env(EMB_THREADS="8", MODEL_DIR=str(root))) as server:
        server.wait_ready()
        yield server


def request(driver):
    return driver.execute_script("return window.lastRequest")


def response(driver):
    return driver.execute_script("return window.lastResponse")


def modes(driver) -> list[str]:
    return [tab.text for tab in driver.find_elements(By.CSS_SELECTOR, "#modes [role=tab]")]


def chosen(driver) -> str:
    """The picker's model, as its option reads (name and kind)."""
    return str(driver.execute_script("const s = document.getElementById('model-select');"
                                     " return s.options[s.selectedIndex].text"))  # fmt: skip


def pick(driver, index: int) -> None:
    Select = pytest.importorskip("selenium.webdriver.support.select").Select
    Select(driver.find_element(By.ID, "model-select")).select_by_value(str(index))


def scores(answer: dict) -> dict[int, float]:
    return {result["index"]: result["relevance_score"] for result in answer["results"]}


def curl(snippet: str) -> object:
    """Run the page's curl snippet (through bash) and read its JSON answer."""
    done = subprocess.run(["bash", "-c", snippet], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_the_picker_runs_each_tab_on_the_chosen_model(browser, wait, set_server):
    url = set_server.url
    open_playground(browser, wait, url)
    assert browser.find_element(By.ID, "model-picker").is_displayed()
    options = browser.find_elements(By.CSS_SELECTOR, "#model-select option")
    assert [option.text for option in options] == MODELS and chosen(browser) == MODELS[0]
    assert modes(browser) == ["Embed", "Classify (zero-shot)", "Rerank", "Sparse", "Tokenize"]
    assert browser.find_element(By.ID, "model-name").text == "embedder"
    assert browser.find_element(By.ID, "mode-rerank").get_attribute("title") == "runs on reranker"

    run(browser, wait)  # embed, on the embedder
    sent = request(browser)
    assert sent["model"] == "embedder"
    direct = requests.post(url + "/v1/embeddings", json=sent, timeout=60).json()
    np.testing.assert_allclose([d["embedding"] for d in response(browser)["data"]],
                               [d["embedding"] for d in direct["data"]], atol=1e-6)  # fmt: skip
    assert '"model": "embedder"' in text_of(browser, "snippet-curl") and "X-Model" not in text_of(
        browser, "snippet-curl"
    )

    browser.find_element(By.ID, "mode-rerank").click()  # the embedder does not rerank: the reranker is chosen
    assert chosen(browser) == MODELS[1] and browser.find_element(By.ID, "model-name").text == "reranker"
    assert "rerank" in browser.find_element(By.ID, "model-facts").text
    assert browser.find_element(By.ID, "query").is_displayed()
    run(browser, wait, canvas="bars")
    sent = request(browser)
    assert sent["model"] == "reranker" and sent["query"] and sent["documents"]
    direct = scores(requests.post(url + "/v1/rerank", json=sent, timeout=60).json())
    assert scores(response(browser)) == pytest.approx(direct, abs=1e-6)
    assert scores(curl(text_of(browser, "snippet-curl"))) == pytest.approx(direct, abs=1e-6)  # the snippet, for real
    full_page_screenshot(browser, artifacts_dir() / "playground-models.png")

    browser.find_element(By.ID, "mode-classify").click()  # zero-shot: the embedder again, with its examples
    assert chosen(browser) == MODELS[0] and not browser.find_element(By.ID, "query").is_displayed()
    run(browser, wait, canvas="labels")
    sent = request(browser)
    assert sent["model"] == "embedder" and sent["labels"]
    direct = requests.post(url + "/v1/classify", json=sent, timeout=60).json()["data"]
    assert [item["prediction"] for item in response(browser)["data"]] == [item["prediction"] for item in direct]

    browser.find_element(By.ID, "mode-sparse").click()  # a TEI body: no "model" field, the X-Model header instead
    assert chosen(browser) == MODELS[2]
    run(browser, wait, canvas="sparse")
    sent = request(browser)
    assert "model" not in sent
    direct = requests.post(url + "/embed_sparse", json=sent, headers={"X-Model": "splade"}, timeout=60).json()
    assert response(browser) == direct
    snippets = {name: text_of(browser, f"snippet-{name}") for name in ("curl", "python", "boto3")}
    assert "-H 'X-Model: splade'" in snippets["curl"] and '"X-Model": "splade"' in snippets["python"]
    assert "sends no X-Model header" in snippets["boto3"]
    assert curl(snippets["curl"]) == direct

    pick(browser, 0)  # the embedder has no Sparse tab: its first, Embed
    assert browser.find_element(By.ID, "mode-embed").get_attribute("aria-selected") == "true"
    assert browser.find_element(By.ID, "model-name").text == "embedder"
    run(browser, wait)
    assert request(browser)["model"] == "embedder"
    assert console_problems(browser) == []


def test_tokenize_runs_on_the_chosen_models_tokenizer(browser, wait, set_server):
    url = set_server.url
    open_playground(browser, wait, url)
    browser.find_element(By.ID, "mode-tokenize").click()
    assert chosen(browser) == MODELS[0]  # every kind tokenizes: the chosen model stays
    seen = {}
    for index, name in [(0, "embedder"), (1, "reranker")]:
        pick(browser, index)
        assert browser.find_element(By.ID, "mode-tokenize").get_attribute("aria-selected") == "true"
        run(browser, wait, canvas="tokens")
        sent = request(browser)
        assert "model" not in sent and f"-H 'X-Model: {name}'" in text_of(browser, "snippet-curl")
        direct = requests.post(url + "/tokenize", json=sent, headers={"X-Model": name}, timeout=60).json()
        assert response(browser) == direct == curl(text_of(browser, "snippet-curl"))
        seen[name] = [token["id"] for token in direct[0]]
        assert browser.find_element(By.ID, "segments").get_attribute("data-ready") == "true"
    assert seen["embedder"] != seen["reranker"]  # two tokenizers: each request went to its model
    assert console_problems(browser) == []


def test_one_model_has_no_picker_and_names_no_model(browser, wait, embed_server):
    open_playground(browser, wait, embed_server.url)
    assert not browser.find_element(By.ID, "model-picker").is_displayed()
    assert modes(browser) == ["Embed", "Classify (zero-shot)", "Tokenize"]
    assert browser.find_element(By.ID, "mode-embed").get_attribute("title") in (None, "")
    browser.find_element(By.ID, "mode-classify").click()
    run(browser, wait, canvas="labels")
    assert "model" not in request(browser)  # as always: only the embeddings body names the model
    browser.find_element(By.ID, "mode-tokenize").click()
    assert "X-Model" not in text_of(browser, "snippet-curl") and "X-Model" not in text_of(browser, "snippet-python")
    assert console_problems(browser) == []
