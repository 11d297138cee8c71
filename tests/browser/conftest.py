"""Real-browser fixtures: Debian's Chromium driven by its chromedriver through Selenium, against a real server.

Nothing is downloaded: the driver binary is given to Selenium explicitly (Selenium Manager never runs). Without
Chromium, chromedriver or the selenium package every browser test is skipped with the reason; install them with
`apt-get install -y chromium chromium-driver` and `pip install selenium` (`make test-browser`, .ci/browser-stage.sh).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.harness import Server, clean_env

HERE = Path(__file__).resolve().parent
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WAIT_S = 60  # upper bound of every wait for the page (a CPU model run takes well under a second)


def artifacts_dir() -> Path:
    """Screenshots go here: $BROWSER_ARTIFACTS, or tests/browser/artifacts/ (its *.png are git-ignored)."""
    folder = Path(os.environ.get("BROWSER_ARTIFACTS") or HERE / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _browser() -> tuple[str, str]:
    pytest.importorskip("selenium", reason="selenium is not installed (pip install selenium; the 'test' extra has it)")
    binary = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        pytest.skip("no Chromium or no chromedriver on PATH (apt-get install -y chromium chromium-driver)")
    return binary, driver


@pytest.fixture
def browser() -> Iterator[Any]:
    """A fresh headless Chromium per test (1400x1000), with the console log recorded."""
    binary, driver_path = _browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
                "--disable-gpu", "--no-first-run", "--disable-extensions", "--lang=en-US"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


def _server(**env: str) -> Iterator[Server]:
    _browser()  # skip before paying for a server start when there is no browser
    with Server(clean_env(EMB_THREADS="8", **env)) as server:
        server.wait_ready()
        yield server


@pytest.fixture(scope="session")
def embed_server() -> Iterator[Server]:
    """The embedded all-MiniLM-L6-v2 on CPU, no API keys."""
    yield from _server()


@pytest.fixture(scope="session")
def reference() -> Callable[[list[str]], Any]:
    """sentence-transformers' normalised embeddings of texts with the embedded model (the parity reference)."""
    from sentence_transformers import SentenceTransformer

    from inference.model_dir import embedded_model_dir

    model = SentenceTransformer(str(embedded_model_dir()), device="cpu")
    return lambda texts: model.encode(texts, normalize_embeddings=True)


@pytest.fixture
def wait(browser: Any) -> Callable[..., Any]:
    """wait(condition, what): WebDriverWait until condition(driver) is truthy (no sleeps)."""
    from selenium.webdriver.support.ui import WebDriverWait

    def until(condition: Callable[[Any], Any], what: str, timeout: float = WAIT_S) -> Any:
        return WebDriverWait(browser, timeout, poll_frequency=0.05).until(condition, message=f"waiting for {what}")

    return until
