"""main.bicep on a re-run of an autoscaled deployment: ``currentInstanceCount`` keeps the capacity autoscale reached,
as the CLI does (infra/azureml/capacity.py), instead of resetting the fleet to ``instanceCount``."""

from __future__ import annotations

import re
from typing import Any

import pytest
from test_azureml_bicep import MAIN, PARAMS, SCOPE, bicep_params

pytest.importorskip("pycep", reason="pycep-parser not installed (test extra)")
pytest.importorskip("azure.ai.ml", reason="azure-ai-ml is not installed (pip install -e .[infra])")

from azureml_bicep_eval import BicepEval, parse  # noqa: E402
from test_azureml_config import make  # noqa: E402

from infra.azureml.capacity import retained_instance_count, with_instance_count  # noqa: E402
from infra.azureml.plan import build_plan, rest_bodies  # noqa: E402

SCALED = {"instance_count": 2, "autoscaling": {"min_instances": 2, "max_instances": 6}}


@pytest.fixture(scope="module")
def main_doc() -> dict[str, Any]:
    return parse(MAIN)


def rendered(main_doc: dict[str, Any], cfg: Any, live: int) -> tuple[int, dict[str, Any]]:
    """(deployment sku capacity, autoscale capacity) main.bicep renders for ``cfg`` with ``live`` instances."""
    bicep = BicepEval(main_doc, {**bicep_params(cfg), "currentInstanceCount": live}, SCOPE)
    autoscale = bicep.resource("autoscale")
    profile = autoscale["properties"]["profiles"][0]["capacity"] if autoscale else {}
    return bicep.resource("onlineDeployment")["sku"]["capacity"], profile


def test_current_instance_count_is_required_like_current_traffic() -> None:
    assert re.search(r"^param currentInstanceCount int$", MAIN.read_text(), re.M)  # no default: ARM asks for it
    assert '"currentInstanceCount": { "value": 0 }' in PARAMS.read_text()  # the example: a new deployment


@pytest.mark.parametrize("live", [0, 2, 4, 6, 9, 1])  # new, at the default, scaled out, at max, above max, below min
def test_a_rerun_keeps_the_live_capacity_within_the_bounds(live: int, main_doc: dict[str, Any]) -> None:
    cfg = make(**SCALED)
    capacity, autoscale = rendered(main_doc, cfg, live)
    assert capacity == retained_instance_count(cfg, live or None)  # the CLI's rule (0: no deployment yet)
    assert capacity == {0: 2, 2: 2, 4: 4, 6: 6, 9: 6, 1: 2}[live]
    assert autoscale == {"minimum": "2", "maximum": "6", "default": "2"}  # the default stays instanceCount


def test_the_same_deployment_body_as_the_cli_for_a_live_count(main_doc: dict[str, Any]) -> None:
    cfg = make(**SCALED)
    plan = with_instance_count(build_plan(cfg), retained_instance_count(cfg, 5))
    sdk = rest_bodies(plan, "westeurope")["deployment"]
    bicep = BicepEval(main_doc, {**bicep_params(cfg), "currentInstanceCount": 5}, SCOPE)
    assert bicep.resource("onlineDeployment")["sku"] == sdk["sku"] == {"name": "Default", "capacity": 5}


def test_without_autoscale_the_live_count_is_ignored(main_doc: dict[str, Any]) -> None:
    cfg = make(instance_count=3)
    assert rendered(main_doc, cfg, 7) == (3, {})  # a fixed size: instanceCount, whatever runs now
