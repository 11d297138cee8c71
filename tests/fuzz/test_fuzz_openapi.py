"""The published OpenAPI document: valid OpenAPI 3.1, generated from the pydantic model, covering the routes."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from inference.api.openapi import openapi_spec
from inference.api.route_table import route_table
from inference.endpoints.embeddings.schema import EmbeddingsRequest
from tests.conftest import make_settings
from tests.fuzz.conftest import MAX_INPUTS, fuzz_settings


def test_openapi_document_is_served_and_valid(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.1")


def test_request_schema_is_the_pydantic_model(spec):
    published = spec["components"]["schemas"]["EmbeddingsRequest"]
    generated = EmbeddingsRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    assert published["required"] == generated["required"] == ["input"]
    assert set(published["properties"]) == set(generated["properties"])
    for name, schema in generated["properties"].items():
        if name != "input":
            assert published["properties"][name] == schema, name
    array = next(b for b in published["properties"]["input"]["anyOf"] if b.get("type") == "array")
    assert (array["minItems"], array["maxItems"]) == (1, MAX_INPUTS)


def test_every_served_route_is_described(fuzz_app, spec):
    """Every route the app serves is in the document, except the web pages (route_table's ``ui`` routes)."""
    pages = {route.path for route in route_table(fuzz_settings(handler="fake")) if route.ui}
    assert pages  # the playground is on by default: the exception below is not empty by accident
    served = set()
    for rule in fuzz_app.url_map.iter_rules():
        if rule.endpoint != "static" and rule.rule not in pages:
            served.add(re.sub(r"<(\w+)>", r"{\1}", rule.rule))
    assert served == set(spec["paths"])


def test_settings_decide_routes_and_limits():
    doc = openapi_spec(make_settings(azure_score_route="/custom-score", max_inputs=3))
    assert "/custom-score" in doc["paths"]
    schema = doc["components"]["schemas"]["EmbeddingsRequest"]["properties"]["input"]["anyOf"][1]
    assert schema["maxItems"] == 3
