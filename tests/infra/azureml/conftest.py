"""Fixtures for the Azure ML infra tests (fakes live in ``azureml_fakes``).

Makes the repository root importable (``infra`` is not an installed package; plain ``pytest`` puts
``tests/`` rather than the root on ``sys.path``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from azureml_fakes import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE, FakeArm, FakeCredential  # noqa: E402


@pytest.fixture
def fake_arm() -> Iterator[FakeArm]:
    """A fresh :class:`FakeArm` wired into ``responses``; any other HTTP(S) URL raises ConnectionError."""
    responses = pytest.importorskip("responses")
    arm = FakeArm()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        arm.install(rsps)
        yield arm


@pytest.fixture
def ml_client(fake_arm: FakeArm) -> Any:
    """``MLClient`` on the fake workspace, authenticated with :class:`FakeCredential`."""
    pytest.importorskip("azure.ai.ml", reason="azure-ai-ml is not installed (pip install -e .[infra])")
    from infra.azureml.apply import make_client
    from infra.azureml.config import AzureMLTarget

    target = AzureMLTarget(
        subscription_id=SUBSCRIPTION, resource_group=RESOURCE_GROUP, workspace=WORKSPACE, endpoint_name="jina-embed"
    )
    return make_client(target, credential=FakeCredential())
