"""``EMB_CPU_CORES`` / ``EMB_MEMORY_MB``: a container given a share of a host (a SageMaker inference component) plans
its workers within that share, not the whole host it sees."""

from __future__ import annotations

import pytest

from inference.runtime.worker_plan import available_memory_bytes, usable_cores


def test_cores_and_memory_are_capped_by_the_share(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMB_CPU_CORES", raising=False)
    monkeypatch.delenv("EMB_MEMORY_MB", raising=False)
    whole_cores, whole_memory = usable_cores(), available_memory_bytes()
    monkeypatch.setenv("EMB_CPU_CORES", "1")
    monkeypatch.setenv("EMB_MEMORY_MB", "256")
    assert usable_cores() == 1
    assert available_memory_bytes() == min(256 * 1024**2, whole_memory or 256 * 1024**2)
    monkeypatch.setenv("EMB_CPU_CORES", str(whole_cores + 64))  # a share above what the container sees: no effect
    assert usable_cores() == whole_cores


@pytest.mark.parametrize("value", ["", "0", "-2", "two"])
def test_unset_or_invalid_shares_are_ignored(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.delenv("EMB_CPU_CORES", raising=False)
    whole = usable_cores()
    monkeypatch.setenv("EMB_CPU_CORES", value)
    assert usable_cores() == whole
