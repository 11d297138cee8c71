"""Listing material: complete, consistent with the samples, the settings and the measurements."""

from __future__ import annotations

import json
import re

import pytest
from marketplace_testing import MARKETPLACE

from inference.settings import Settings
from marketplace import measure

LISTING = MARKETPLACE / "listing"
DATA = MARKETPLACE / "data"


@pytest.mark.parametrize("name", ["description.md", "highlights.md", "usage.md"])
def test_listing_texts_exist_without_placeholders(name):
    text = (LISTING / name).read_text(encoding="utf-8")
    assert len(text) > 500 and "TODO" not in text and "lorem" not in text.lower()


def test_description_fits_the_listing_form():
    assert len((LISTING / "description.md").read_text(encoding="utf-8")) <= 5000


def test_highlights_table_is_rendered_from_the_measurements():
    text = (LISTING / "highlights.md").read_text(encoding="utf-8")
    block = text.split(measure.START, 1)[1].split(measure.END, 1)[0]
    assert block.strip() == measure.render(measure.load_measurements()), "run: python -m marketplace.measure --render"


def test_measured_rows_have_numbers_and_unmeasured_rows_say_so():
    measurements = measure.load_measurements()
    measured = {label: entry for label, entry in measurements.items() if entry}
    assert measured, "at least one machine was measured"
    for entry in measured.values():
        assert entry["latency"]["p50_ms"] > 0 and entry["throughput"]["texts_per_s"] > 0
        assert entry["batch"]["records_per_s"] > 0 and entry["hardware"] and entry["date"]
    rendered = measure.render(measurements)
    assert all(f"| {label} | to be measured" in rendered for label, entry in measurements.items() if not entry)


def test_usage_examples_are_the_sample_files():
    usage = (LISTING / "usage.md").read_text(encoding="utf-8")
    request = (DATA / "input" / "real-time" / "texts.json").read_text(encoding="utf-8").strip()
    assert request in usage
    response = json.loads((DATA / "output" / "real-time" / "texts.json").read_text())
    for item in response["data"]:
        shown = ", ".join(str(x) for x in item["embedding"][:4])
        assert shown in usage, f"usage.md shows other numbers than data/output for index {item['index']}"
    assert json.dumps(response["usage"]) in usage
    first_batch_line = (DATA / "output" / "batch" / "texts.jsonl.out").read_text().splitlines()[0]
    assert first_batch_line[: first_batch_line.index(",", 60)] in usage
    for path in sorted(DATA.rglob("*.*")):
        if path.parent.name == "batch" or path.name == "texts.json":
            assert str(path.relative_to(MARKETPLACE)) in usage, path


def test_usage_limits_match_the_server_settings():
    usage = (LISTING / "usage.md").read_text(encoding="utf-8")
    defaults = Settings.model_construct()
    assert re.search(rf"Texts per real-time request \| {defaults.max_inputs} with `base64`", usage)
    assert re.search(rf"Request size \| {defaults.max_body_mb:g} MB", usage)


def test_measure_runs_against_the_container(container_url):
    result = measure.measure(container_url, latency_requests=3, throughput_requests=2, records=20)
    assert result["latency"]["p50_ms"] > 0 and result["throughput"]["texts_per_s"] > 0
    assert result["batch"]["records_per_s"] > 0 and result["batch"]["records"] == 20
    assert "| probe |" in measure.render({"probe": result})


def test_the_listing_and_the_buyer_guide_name_the_inference_options():
    """A Marketplace model package serves real-time endpoints and batch transform, the two kinds of instance types
    its request declares; AWS Marketplace's ML restrictions rule out serverless and asynchronous inference for it
    (they need network connectivity, and Marketplace models run isolated). Buyers read that before subscribing."""
    description = " ".join((LISTING / "description.md").read_text(encoding="utf-8").split())
    assert "**Inference options**: real-time endpoints and batch transform." in description
    assert "Serverless Inference and Asynchronous Inference are not available" in description
    usage = (LISTING / "usage.md").read_text(encoding="utf-8")
    assert re.search(r"\| Inference options \| real-time endpoints and batch transform \(not Serverless or "
                     r"Asynchronous Inference", usage)  # fmt: skip
    buyer = (MARKETPLACE.parent / "docs" / "guides" / "marketplace" / "buyer.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (Real-time endpoint|Batch transform|Serverless Inference|Asynchronous Inference) \| "
                           r"(\*\*no\*\*|yes)", buyer, re.MULTILINE))  # fmt: skip
    assert rows == {"Real-time endpoint": "yes", "Batch transform": "yes", "Serverless Inference": "**no**",
                    "Asynchronous Inference": "**no**"}  # fmt: skip
    assert "ml-service-restrictions-and-limits" in buyer
