"""The documentation site builds with `mkdocs build --strict` (every warning an error: broken links and anchors,
pages missing from the navigation, a generated block that fails), and the generated pages hold what the code
publishes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e '.[docs]'; make docs does it)")
pytest.importorskip("material", reason="the docs extra is not installed (mkdocs-material)")

from inference.api.openapi import openapi_spec  # noqa: E402
from inference.settings import Settings  # noqa: E402
from tests.docs.docs_pages import REPO  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("site")
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(REPO / "mkdocs.yml"), "-d", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    log = run.stdout + run.stderr
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{log[-6000:]}"
    return out, log


def test_site_builds_strict_without_warnings(site):
    out, log = site
    warnings = [line for line in log.splitlines() if re.match(r"\s*(WARNING|ERROR)\b", line)]
    assert not warnings, "\n".join(warnings)
    assert (out / "index.html").is_file()
    assert (out / "api" / "openapi.json").is_file()


def test_endpoint_reference_lists_every_published_path(site):
    out, _ = site
    html = (out / "api" / "reference" / "index.html").read_text(encoding="utf-8")
    spec = openapi_spec(Settings.model_construct())
    for path in spec["paths"]:
        assert f"<code>{path}</code>" in html, f"{path} is missing from the endpoint reference"
    for schema in spec["components"]["schemas"]:
        assert f'id="schema-{schema.lower()}"' in html, f"schema {schema} is missing from the endpoint reference"


def test_configuration_reference_lists_every_variable(site):
    out, _ = site
    html = (out / "reference" / "configuration" / "index.html").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        for variable in getattr(field.validation_alias, "choices", [name]):
            assert f"<code>{variable}</code>" in html, f"{variable} is missing from the configuration reference"


def test_mermaid_diagrams_are_rendered_as_diagrams(site):
    out, _ = site
    html = (out / "architecture" / "index.html").read_text(encoding="utf-8")
    assert '<pre class="mermaid">' in html
