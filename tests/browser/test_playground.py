"""The playground at / in a real Chromium against a real server: edit, run, heatmap, vectors equal to
sentence-transformers', base64 decoding, the code snippets (run for real), API keys, a reranker, an image input
to a CLIP model."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import subprocess

import numpy as np
import pytest

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
from tests.tiny_models import build_tiny_clip
from tests.tiny_rerankers import build_tiny_bert_reranker

pytestmark = pytest.mark.browser

EDITED = "The quick brown fox jumps over the lazy dog."
ADDED = "Der schnelle braune Fuchs springt über den faulen Hund."
# Shell quote, JSON quote, markup: must reach the server as typed and never become markup in the page.
TRICKY = """It's a <b>bold</b> "quoted" & <img src=x> test"""
API_KEY = "sk-browser-test-key-123"


def response(driver):
    return driver.execute_script("return window.lastResponse")


def test_edit_run_heatmap_and_vectors_match_sentence_transformers(browser, wait, embed_server, reference):
    open_playground(browser, wait, embed_server.url)
    assert browser.find_element(By.ID, "model-name").text == "all-MiniLM-L6-v2"
    assert browser.find_element(By.ID, "mode-embed").get_attribute("aria-selected") == "true"
    assert "384" in browser.find_element(By.ID, "model-facts").text
    set_text(inputs(browser)[0], EDITED)
    browser.find_element(By.ID, "add-input").click()
    set_text(inputs(browser)[-1], ADDED)
    texts = [field.get_attribute("value") for field in inputs(browser)]
    assert texts[0] == EDITED and texts[-1] == ADDED and len(texts) >= 3

    heatmap = run(browser, wait)
    assert heatmap.get_attribute("data-size") == str(len(texts))
    body = response(browser)
    assert [item["index"] for item in body["data"]] == list(range(len(texts)))
    vectors = np.array([item["embedding"] for item in body["data"]], dtype=np.float32)
    np.testing.assert_allclose(vectors, reference(texts), atol=1e-4)
    # the heatmap shows the cosine similarity of exactly these vectors
    np.testing.assert_allclose(browser.execute_script("return window.lastSimilarity"), vectors @ vectors.T, atol=1e-5)
    shown = browser.find_element(By.ID, "response").text
    assert "… (384 values)" in shown and '"total_tokens"' in shown
    assert str(body["usage"]["total_tokens"]) in browser.find_element(By.ID, "usage").text
    assert browser.find_element(By.ID, "latency").text.endswith(" ms")
    full_page_screenshot(browser, artifacts_dir() / "playground.png")
    assert console_problems(browser) == []


def test_base64_only_is_decoded_for_the_heatmap_and_binary_only_says_why_not(browser, wait, embed_server, reference):
    open_playground(browser, wait, embed_server.url)
    texts = [field.get_attribute("value") for field in inputs(browser)]
    browser.find_element(By.ID, "type-float").click()
    browser.find_element(By.ID, "type-base64").click()
    assert '"embedding_type": "base64"' in text_of(browser, "snippet-curl")

    heatmap = run(browser, wait)
    assert heatmap.get_attribute("data-size") == str(len(texts))
    encoded = [item["embedding"] for item in response(browser)["data"]]
    assert all(isinstance(value, str) for value in encoded)
    assert encoded[0][:40] in browser.find_element(By.ID, "response").text
    vectors = np.array([np.frombuffer(base64.b64decode(value), "<f4") for value in encoded])
    np.testing.assert_allclose(vectors, reference(texts), atol=1e-4)
    np.testing.assert_allclose(browser.execute_script("return window.lastSimilarity"), vectors @ vectors.T, atol=1e-5)

    browser.find_element(By.ID, "type-base64").click()
    browser.find_element(By.ID, "type-ubinary").click()
    browser.find_element(By.ID, "run").click()
    wait(lambda d: "needs float or base64" in d.find_element(By.ID, "chart-note").text, "the binary-only note")
    assert heatmap.get_attribute("data-ready") == "false"
    assert console_problems(browser) == []


def test_snippets_follow_the_form_and_run_against_the_server(browser, wait, embed_server, monkeypatch):
    open_playground(browser, wait, embed_server.url)
    set_text(inputs(browser)[0], TRICKY)
    set_text(browser.find_element(By.ID, "dimensions"), "64")
    browser.find_element(By.ID, "type-base64").click()  # float and base64: each embedding an object keyed by type
    count = len(inputs(browser))
    snippets = {name: text_of(browser, f"snippet-{name}") for name in ("curl", "python", "openai", "boto3")}
    for name, text in snippets.items():  # updated live, before any run
        assert "<b>bold</b>" in text and embed_server.url in text, name
    assert '"embedding_type": [' in snippets["curl"] and '"dimensions": 64' in snippets["curl"]
    assert "dimensions=64" in snippets["openai"] and "extra_body=" in snippets["openai"]
    assert 'ContentType="application/json"' in snippets["boto3"] and "invoke_endpoint(" in snippets["boto3"]
    assert "Authorization" not in snippets["curl"]
    # the typed text stays text: nothing in the page turned into markup
    run(browser, wait)
    assert browser.execute_script("return document.querySelectorAll('main b, main img').length") == 0

    def check(body: dict) -> None:
        assert len(body["data"]) == count
        first = body["data"][0]["embedding"]
        assert len(first["float"]) == 64 and len(base64.b64decode(first["base64"])) == 64 * 4

    assert snippets["curl"].startswith("curl -sS ")  # the status code written after the body, as the last line
    with_status = snippets["curl"].replace("curl -sS ", "curl -sS -w '\\n%{http_code}' ", 1)
    curl = subprocess.run(["bash", "-c", with_status],
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    payload, status = curl.stdout.rsplit("\n", 1)
    assert status == "200", curl.stdout[-500:]
    check(json.loads(payload))
    np.testing.assert_allclose(
        json.loads(payload)["data"][0]["embedding"]["float"],
        response(browser)["data"][0]["embedding"]["float"],
        atol=1e-5,
    )

    for name in ("python", "openai", "boto3"):
        if name == "openai":
            pytest.importorskip("openai")
        if name == "boto3":
            monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        scope: dict = {}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(snippets[name], f"<snippet-{name}>", "exec"), scope)  # noqa: S102 - the page's own snippet
        reply = scope["response"]
        if name == "python":
            assert reply.status_code == 200
            check(reply.json())
        elif name == "openai":
            assert len(reply.data) == count and len(reply.data[0].embedding["float"]) == 64
        else:
            assert reply["ResponseMetadata"]["HTTPStatusCode"] == 200
            check(scope["result"])


@pytest.fixture(scope="module")
def key_server():
    with Server(clean_env(EMB_THREADS="8", EMB_API_KEY=API_KEY)) as server:
        server.wait_ready()
        yield server


def test_api_key_field_401_then_success(browser, wait, key_server):
    open_playground(browser, wait, key_server.url)
    key = browser.find_element(By.ID, "api-key")
    assert key.is_displayed() and key.get_attribute("type") == "password"
    browser.find_element(By.ID, "run").click()
    wait(lambda d: d.find_element(By.ID, "error").is_displayed(), "the 401 message")
    error = browser.find_element(By.ID, "error").text
    assert "401" in error and "authentication_error" in error and "API key" in error

    key.send_keys(API_KEY)
    heatmap = run(browser, wait)
    assert heatmap.get_attribute("data-size") == str(len(inputs(browser)))
    assert not browser.find_element(By.ID, "error").is_displayed()
    for name in ("curl", "python", "openai", "boto3"):  # a placeholder, never the typed key
        assert API_KEY not in text_of(browser, f"snippet-{name}"), name
    assert '"Authorization: Bearer $EMB_API_KEY"' in text_of(browser, "snippet-curl")
    assert 'os.environ["EMB_API_KEY"]' in text_of(browser, "snippet-python")
    # the 401 was a fetch the page handled; only the network line for it may be in the console
    assert all("401" in entry["message"] for entry in console_problems(browser))


@pytest.fixture(scope="module")
def rerank_server(tmp_path_factory):
    folder = build_tiny_bert_reranker(tmp_path_factory.mktemp("tiny-reranker"))
    with Server(clean_env(EMB_THREADS="8", MODEL_DIR=str(folder))) as server:
        server.wait_ready()
        yield server


def test_reranker_query_documents_and_bars(browser, wait, rerank_server):
    open_playground(browser, wait, rerank_server.url)
    tabs = browser.find_elements(By.CSS_SELECTOR, "#modes [role=tab]")
    assert [tab.text for tab in tabs] == ["Rerank", "Tokenize"]  # what a cross-encoder does
    assert browser.find_element(By.ID, "query").is_displayed()
    assert not browser.find_element(By.ID, "heatmap").is_displayed()
    set_text(browser.find_element(By.ID, "query"), "capital of france")
    set_text(inputs(browser)[0], "paris is the capital of france")
    documents = [field.get_attribute("value") for field in inputs(browser)]
    assert '"documents": [' in text_of(browser, "snippet-curl") and "/v1/rerank" in text_of(browser, "snippet-curl")
    assert "no rerank endpoint" in text_of(browser, "snippet-openai")

    bars = run(browser, wait, canvas="bars")
    assert bars.get_attribute("data-size") == str(len(documents))
    results = response(browser)["results"]
    assert sorted(result["index"] for result in results) == list(range(len(documents)))
    scores = [result["relevance_score"] for result in results]
    assert scores == sorted(scores, reverse=True)
    assert [result["document"]["text"] for result in results] == [documents[r["index"]] for r in results]
    full_page_screenshot(browser, artifacts_dir() / "playground-rerank.png")
    assert console_problems(browser) == []


@pytest.fixture(scope="module")
def clip_server(tmp_path_factory):
    """A tiny random CLIP (text and image towers, 16-dim projection), its family detected from config.json."""
    folder = build_tiny_clip(tmp_path_factory.mktemp("tiny-clip") / "tiny-clip")
    with Server(clean_env(EMB_THREADS="8", MODEL_DIR=str(folder))) as server:
        server.wait_ready()
        yield server


def test_image_upload_runs_and_matches_the_api(browser, wait, clip_server, tmp_path):
    import requests
    from PIL import Image

    picture = Image.new("RGB", (40, 50), (200, 30, 60))
    for xy in ((3, 4), (20, 25), (35, 40)):
        picture.putpixel(xy, (10, 240, 90))
    path = tmp_path / "red.png"
    picture.save(path, format="PNG")
    uri = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()

    open_playground(browser, wait, clip_server.url)
    assert "image" in browser.find_element(By.ID, "model-facts").text  # modalities: image, text
    items = browser.find_elements(By.CSS_SELECTOR, "#inputs .input-item")
    while len(items) > 2:  # one image, one text
        items[-1].find_element(By.CSS_SELECTOR, "button[title=Remove]").click()
        items = browser.find_elements(By.CSS_SELECTOR, "#inputs .input-item")
    text = "hello world"
    set_text(inputs(browser)[1], text)
    picked = items[0]
    picked.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(path))
    thumb = picked.find_element(By.CSS_SELECTOR, "img.thumb")
    wait(lambda d: thumb.is_displayed(), "the thumbnail")
    assert thumb.get_attribute("src") == uri
    wait(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", thumb) == 40,
         "the thumbnail to load")  # fmt: skip
    assert not picked.find_element(By.CSS_SELECTOR, ".input-text").is_displayed()  # the image replaces the text
    assert '"image": "data:image/png;base64,' in text_of(browser, "snippet-curl")

    heatmap = run(browser, wait)
    assert heatmap.get_attribute("data-size") == "2"
    sent = browser.execute_script("return window.lastRequest")
    assert sent["input"] == [{"image": uri}, text]
    body = response(browser)
    assert [item["index"] for item in body["data"]] == [0, 1]
    vectors = np.array([item["embedding"] for item in body["data"]], dtype=np.float32)
    assert vectors.shape == (2, 16)
    np.testing.assert_allclose(browser.execute_script("return window.lastSimilarity"), vectors @ vectors.T, atol=1e-5)

    direct = requests.post(clip_server.url + "/v1/embeddings", timeout=60,
                           json={"input": [{"image": uri}, text], "normalized": sent["normalized"]})  # fmt: skip
    assert direct.status_code == 200, direct.text
    expected = np.array([item["embedding"] for item in direct.json()["data"]], dtype=np.float32)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1], atol=1e-3)  # the image went through the image tower

    thumb = browser.find_element(By.CSS_SELECTOR, "#inputs .input-item img.thumb")
    assert thumb.is_displayed() and thumb.get_attribute("src") == uri  # still shown after the run
    full_page_screenshot(browser, artifacts_dir() / "playground-image.png")
    assert console_problems(browser) == []
