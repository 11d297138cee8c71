"""/docs (Swagger UI over /openapi.json) in a real Chromium, and both pages under their CSP: nothing from another
host, no CSP violation and no JS error in the console."""

from __future__ import annotations

import urllib.request

import pytest

from tests.browser.conftest import artifacts_dir
from tests.browser.helpers import By, console_problems, foreign_references, open_playground, run

pytestmark = pytest.mark.browser


def open_docs(driver, wait, url: str) -> None:
    driver.get(url + "/docs")
    wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock"), "Swagger UI's operations")


def operation(driver, method: str, path: str):
    for block in driver.find_elements(By.CSS_SELECTOR, f".swagger-ui .opblock.opblock-{method}"):
        if block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute("data-path") == path:
            return block
    raise AssertionError(f"no {method.upper()} {path} in Swagger UI")


def test_swagger_ui_try_it_out_executes_embeddings(browser, wait, embed_server):
    from selenium.webdriver.common.keys import Keys

    open_docs(browser, wait, embed_server.url)
    block = operation(browser, "post", "/v1/embeddings")
    block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait(lambda d: block.find_elements(By.CSS_SELECTOR, ".opblock-body"), "the operation to expand")
    try_out = block.find_elements(By.CSS_SELECTOR, ".try-out__btn")
    if try_out and try_out[0].text.strip() == "Try it out":  # tryItOutEnabled may already have switched it on
        try_out[0].click()
    body = wait(lambda d: block.find_element(By.CSS_SELECTOR, "textarea.body-param__text"), "the body editor")
    body.send_keys(Keys.CONTROL, "a")
    body.send_keys(Keys.DELETE)
    body.send_keys('{"input": ["hello"]}')
    block.find_element(By.CSS_SELECTOR, ".execute").click()
    status = wait(
        lambda d: block.find_elements(By.CSS_SELECTOR, ".live-responses-table .response .response-col_status"),
        "the live response",
    )
    assert status[0].text.split()[0] == "200", status[0].text
    shown = block.find_element(By.CSS_SELECTOR, ".live-responses-table .response .response-col_description")
    assert '"embedding"' in shown.text and "all-MiniLM-L6-v2" in shown.text
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", status[0])
    browser.save_screenshot(str(artifacts_dir() / "docs.png"))
    assert console_problems(browser) == []


@pytest.mark.parametrize("page", ["/", "/docs"])
def test_pages_use_only_their_own_origin_and_log_no_errors(browser, wait, embed_server, page):
    if page == "/":
        open_playground(browser, wait, embed_server.url)
        run(browser, wait)  # the fetches and the canvas too
        browser.find_element(By.CSS_SELECTOR, "[role=tab][data-tab=openai]").click()
    else:
        open_docs(browser, wait, embed_server.url)
        operation(browser, "post", "/v1/embeddings").find_element(By.CSS_SELECTOR, ".opblock-summary").click()
        wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-body"), "an expanded operation")
    assert foreign_references(browser, embed_server.url) == []
    assert console_problems(browser) == []
    with urllib.request.urlopen(embed_server.url + page, timeout=30) as reply:
        csp = reply.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp
