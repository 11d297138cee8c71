"""deploy/grafana/embedding-service.json: valid JSON whose queries name only metrics the server exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

from inference import metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "embedding-service.json"


def test_dashboard_queries_name_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exported = {family.name for metric in vars(metrics).values() if isinstance(metric, MetricWrapperBase)
                for family in metric.describe()}  # fmt: skip
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    names = {name for expr in exprs for name in re.findall(r"\bembed_\w+", expr)}
    named = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in names}
    assert named and named <= exported, named - exported
    titles = " ".join(panel["title"] for panel in dashboard["panels"]).lower()
    for needed in ("status", "p99", "tokens/s", "queue", "shed"):
        assert needed in titles
