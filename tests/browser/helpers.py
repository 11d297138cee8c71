"""Page helpers shared by the browser tests (the fixtures are in conftest.py). Importable without selenium (the
default `make test` collects this folder and deselects its tests), hence the locator strings instead of ``By``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit


class By:
    """selenium.webdriver.common.by.By's values."""

    ID = "id"
    CSS_SELECTOR = "css selector"


def open_playground(driver: Any, wait: Callable[..., Any], url: str) -> None:
    """Load / and wait until /info has been read (the Run button is enabled then)."""
    driver.get(url + "/")
    wait(lambda d: d.find_element(By.ID, "run").is_enabled(), "the playground to read /info")


def inputs(driver: Any) -> list[Any]:
    return driver.find_elements(By.CSS_SELECTOR, "#inputs .input-text")


def set_text(element: Any, text: str) -> None:
    """Replace a field's text the way a person does: clear it, then type (input events fire)."""
    element.clear()
    element.send_keys(text)


def run(driver: Any, wait: Callable[..., Any], canvas: str = "heatmap") -> Any:
    """Press Run and wait for the answer's view (the chart canvas ``heatmap`` or ``bars``, or the ``tokens``,
    ``vectors``, ``ranking`` or ``labels`` view: data-ready turns false at the click, true once drawn) or an
    error."""
    driver.find_element(By.ID, "run").click()

    def done(d: Any) -> bool:
        return d.find_element(By.ID, canvas).get_attribute("data-ready") == "true" or d.find_element(
            By.ID, "error").is_displayed()  # fmt: skip

    wait(done, f"#{canvas} to be drawn")
    wait(lambda d: d.find_element(By.ID, "run").is_enabled(), "the run to finish")
    error = driver.find_element(By.ID, "error")
    assert not error.is_displayed(), f"the page shows an error: {error.text}"
    return driver.find_element(By.ID, canvas)


def full_page_screenshot(driver: Any, path: Any) -> None:
    """The whole page (the window grown to its height, up to 4000 px) as a PNG."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(int(height) + 140, 4000))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(path))


def text_of(driver: Any, element_id: str) -> str:
    """An element's whole text, also when it is hidden (a snippet tab not shown)."""
    return str(driver.find_element(By.ID, element_id).get_attribute("textContent"))


def console_problems(driver: Any) -> list[dict[str, Any]]:
    """Console entries that are errors (SEVERE) or CSP reports. No exception: both pages declare
    <link rel="icon" href="data:,">, so the browser requests no /favicon.ico (a 404 for it would count here)."""
    return [
        entry for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" or "Content Security Policy" in entry["message"]
    ]  # fmt: skip


def foreign_references(driver: Any, origin: str) -> list[str]:
    """Every resource the page loaded and every src/href in its DOM that is not on ``origin`` (data:, blob: and
    in-page #fragments are fine)."""
    urls = driver.execute_script(
        """
        const loaded = performance.getEntriesByType("resource").map((e) => e.name);
        const attrs = [];
        for (const node of document.querySelectorAll("[src], [href], [srcset], [action], [poster]")) {
          for (const name of ["src", "href", "srcset", "action", "poster", "xlink:href"]) {
            const value = node.getAttribute(name);
            if (value !== null && value !== "") attrs.push(new URL(value, document.baseURI).href);
          }
        }
        return loaded.concat(attrs);
        """
    )
    foreign = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob"):
            continue
        if f"{parts.scheme}://{parts.netloc}" != origin:
            foreign.append(url)
    return foreign
