"""The generated references (docs/hooks/reference.py) and the request bodies the pages show, checked without
building the site (no mkdocs needed)."""

from __future__ import annotations

import importlib.util
import json
import shlex
from pathlib import Path

import jsonschema
import pytest

from inference.access.keys import parse_key_file
from inference.api.openapi import openapi_spec
from inference.env_table import env_table
from inference.settings import Settings
from tests.docs.docs_pages import DOCS, all_examples, blocks, pages

spec = importlib.util.spec_from_file_location("docs_reference_hook", DOCS / "hooks" / "reference.py")
hook = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hook)


def test_the_configuration_page_is_generated_from_settings():
    page = (DOCS / "reference" / "configuration.md").read_text(encoding="utf-8")
    assert "<!-- generated: env-table -->" in page
    rendered = hook.render_markers(page)
    assert env_table() in rendered
    assert "<!-- generated:" not in rendered


def test_the_endpoint_reference_is_generated_from_the_published_document():
    page = (DOCS / "api" / "reference.md").read_text(encoding="utf-8")
    assert "<!-- generated: openapi -->" in page
    rendered = hook.render_markers(page)
    plain, guarded = hook.openapi_documents()
    for path, methods in plain["paths"].items():
        for method in methods:
            assert f"| {method.upper()} | [`{path}`]" in rendered, f"{method} {path}"
    for name in plain["components"]["schemas"]:
        assert f"{{#schema-{name.lower()}}}" in rendered
    # the published document is the server's: default settings plus the Vertex AI routes
    assert plain["paths"].keys() >= openapi_spec(Settings.model_construct())["paths"].keys()
    assert "bearer" in guarded["components"]["securitySchemes"]
    assert "401" in rendered and "only when API keys are on" in rendered


def test_request_fields_show_types_limits_and_defaults():
    schema = hook.openapi_documents()[0]["components"]["schemas"]["TEIEmbedRequest"]
    rows = "\n".join(hook.fields_table(schema))
    assert "| `inputs` | `string` or array of (`string`) | yes |  | at least 1 items; at most 2048 items |" in rows
    assert "| `dimensions` | `integer` or `null` |  | `null` | ≥ 1 |" in rows


def test_an_unknown_generated_block_fails_the_build():
    with pytest.raises(ValueError, match="unknown generated block 'nope'"):
        hook.render_markers("# Page\n\n<!-- generated: nope -->\n")


LOCAL_URLS = ("localhost:8080/", "http://localhost:8080/", "127.0.0.1:8080/", "http://127.0.0.1:8080/")


def request_bodies() -> list[tuple[str, str, str]]:
    """(where, path, body): the JSON bodies (`-d '...'`) of the executable curl examples and the path they are
    posted to, except those meant to be refused (`bad-request`)."""
    found = []
    for example in all_examples():
        if example.block.lang != "bash" or "bad-request" in example.options:
            continue
        words = shlex.split(example.block.code.replace("\\\n", " "), comments=True)
        starts = [i for i, word in enumerate(words) if word == "curl"]
        for begin, stop in zip(starts, [*starts[1:], len(words)][: len(starts)], strict=True):
            command = words[begin:stop]
            urls = [w for w in command if w.startswith(LOCAL_URLS)]
            for flag, value in zip(command, command[1:], strict=False):
                if flag == "-d" and value.lstrip().startswith("{") and urls:
                    found.append((example.id, "/" + urls[0].split(":8080/", 1)[1], value))
    return found


BODIES = request_bodies()
# Examples run against a server whose Vertex predict route is /predict (it then takes the path from TEI's /predict).
VERTEX_EXAMPLES = {example.id for example in all_examples() if "AIP_PREDICT_ROUTE" in (example.server_env or "")}


def test_curl_examples_send_json_bodies():
    assert len(BODIES) >= 8
    assert {path for _, path, _ in BODIES} >= {"/invocations", "/v1/embeddings", "/embed", "/predict"}


@pytest.mark.parametrize(("where", "path", "body"), BODIES, ids=[where for where, _, _ in BODIES])
def test_request_body_in_the_docs_matches_the_published_schema(where: str, path: str, body: str):
    """Each body validates against the request schema the OpenAPI document publishes for the path it is sent to."""
    vertex_route = "/predict" if where in VERTEX_EXAMPLES else None
    document = openapi_spec(Settings.model_construct(vertex_predict_route=vertex_route))
    assert path in document["paths"], f"{where}: {path} is not a published path"
    schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    jsonschema.validate(json.loads(body), {**schema, "components": document["components"]})


def test_key_files_shown_in_the_docs_parse(tmp_path: Path):
    shown = [b for path in pages() for b in blocks(path) if b.lang == "json" and b.code.lstrip().startswith('{"keys"')]
    assert shown
    for block in shown:
        path = tmp_path / "keys.json"
        path.write_text(block.code, encoding="utf-8")
        assert parse_key_file(path), f"{block.page}:{block.line}"
