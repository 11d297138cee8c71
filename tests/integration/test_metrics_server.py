"""GET /metrics on a real server with two gunicorn workers: prometheus_client's multiprocess mode sums every
worker's counters, whichever worker answers the scrape; the server's metrics folder is its own and removed at exit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from marketplace.local_server import local_server

N = 40
OK = {"route": "/invocations", "status": "200"}


def answered(url: str) -> float:
    response = requests.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    return sum(s.value for s in families["embed_requests"].samples
               if s.name == "embed_requests_total" and all(s.labels.get(k) == v for k, v in OK.items()))  # fmt: skip


def test_two_workers_counts_are_summed_and_the_folder_is_removed(tmp_path: Path) -> None:
    with local_server({"EMB_WORKERS": "2", "EMB_THREADS": "4", "TMPDIR": str(tmp_path)}) as url:
        [folder] = list(tmp_path.glob("embed-metrics-*"))  # this server's own, fresh folder
        assert answered(url) == 0  # nothing counted from another server's files
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda i: requests.post(f"{url}/invocations", json={"input": f"text {i}"},
                                                             timeout=60).status_code, range(N)))  # fmt: skip
        assert statuses == [200] * N
        assert [answered(url) for _ in range(6)] == [N] * 6  # each scrape, whichever worker answers it
        pids = {p.stem.rsplit("_", 1)[-1] for p in folder.glob("counter_*.db")}
        assert len(pids) >= 2, pids  # both workers wrote their own files
    assert not folder.exists()
