"""GET /metrics on the Flask app (one process: the default registry): Prometheus text format whose counters move
with real requests on the fake handler."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from inference.api.app import ENGINE
from inference.api.openapi import openapi_spec
from inference.api.route_table import probe_paths
from inference.errors import OverloadedError
from tests.conftest import make_settings


def scrape(client) -> dict[str, list]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return {family.name: family.samples for family in text_string_to_metric_families(response.get_data(as_text=True))}


def value(families, sample_name: str, **labels) -> float:
    family = families[sample_name.removesuffix("_total").removesuffix("_count").removesuffix("_sum")]
    return sum(s.value for s in family
               if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items()))  # fmt: skip


def test_requests_inputs_tokens_and_latency_are_counted(client):
    before = scrape(client)
    for _ in range(3):
        assert client.post("/v1/embeddings", json={"input": ["hello", "world"]}).status_code == 200
    after = scrape(client)
    ok = {"route": "/v1/embeddings", "status": "200"}
    assert value(after, "embed_requests_total", **ok) - value(before, "embed_requests_total", **ok) == 3
    assert value(after, "embed_inputs_total", api="embed") - value(before, "embed_inputs_total", api="embed") == 6
    assert value(after, "embed_tokens_total", api="embed") > value(before, "embed_tokens_total", api="embed")
    route = {"route": "/v1/embeddings"}
    counted = value(after, "embed_request_duration_seconds_count", **route)
    assert counted - value(before, "embed_request_duration_seconds_count", **route) == 3
    buckets = [s for s in after["embed_request_duration_seconds"]
               if s.name.endswith("_bucket") and s.labels["route"] == "/v1/embeddings"]  # fmt: skip
    assert {s.labels["le"] for s in buckets} >= {"0.005", "1.0", "+Inf"}
    assert [s.value for s in buckets if s.labels["le"] == "+Inf"] == [counted]
    assert value(after, "embed_batch_size_count") >= value(before, "embed_batch_size_count") + 1
    assert "embed_queued_tokens" in after and "embed_model_load_seconds" in after


def test_errors_are_counted_by_status(client, app, monkeypatch):
    before = scrape(client)
    assert client.post("/v1/embeddings", json={"input": []}).status_code == 400
    assert client.get("/nope").status_code == 404

    def refuse(*args, **kwargs):
        raise OverloadedError("server is at capacity; retry shortly")

    monkeypatch.setattr(app.extensions[ENGINE].budget, "reserve", refuse)  # the work budget refuses: 503
    assert client.post("/v1/embeddings", json={"input": "x"}).status_code == 503
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("embed_requests_total", route="/v1/embeddings", status="400") == 1
    assert delta("embed_requests_total", route="/v1/embeddings", status="503") == 1
    assert delta("embed_requests_total", route="unmatched", status="404") == 1
    assert delta("embed_shed_total", reason="overloaded") == 1


def test_metrics_is_an_open_quiet_route_documented_as_text():
    settings = make_settings(handler="fake")
    assert "/metrics" in probe_paths(settings)  # answered in the front's loop even when saturated; DEBUG log
    operation = openapi_spec(settings)["paths"]["/metrics"]["get"]
    assert list(operation["responses"]["200"]["content"]) == ["text/plain"]


def test_inputs_are_counted_by_api(client):
    """The ``api`` label says what was asked: /invocations on an embedding model counts as embed, the tokenizer
    routes as tokenize."""
    before = scrape(client)
    assert client.post("/invocations", json={"input": ["a b c"]}).status_code == 200
    assert client.post("/tokenize", json={"inputs": ["a b", "c"]}).status_code == 200
    after = scrape(client)
    assert value(after, "embed_inputs_total", api="embed") - value(before, "embed_inputs_total", api="embed") == 1
    tokenize = value(after, "embed_inputs_total", api="tokenize") - value(before, "embed_inputs_total", api="tokenize")
    assert tokenize == 2
