"""SageMaker Python SDK v2 (``Model``, ``ModelPackage``, ``Predictor``): the page's code deploys, invokes, updates and
deletes.

Runs docs/guides/sagemaker/python-sdk.md's ``v2`` blocks as written: the control plane in moto (server mode), the
``InvokeEndpoint`` calls answered by the real server (embedded model); botocore's service endpoint variables point
the SDK there. Needs ``sagemaker`` 2.x (``make test-sagemaker-sdk``: its own venv; not part of ``make test``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

sagemaker_v2 = pytest.importorskip("sagemaker.model", reason="sagemaker 2.x not installed: make test-sagemaker-sdk")
if not hasattr(sagemaker_v2, "ModelPackage"):  # sagemaker 3.x has no sagemaker.model.Model/ModelPackage
    pytest.skip("sagemaker 2.x not installed (this is 3.x): make test-sagemaker-sdk", allow_module_level=True)

pytest.register_assert_rewrite("sagemaker_sdk_testing")  # its assert helpers explain their failures
from sagemaker_sdk_testing import (  # noqa: E402
    DOC_INSTANCE_TYPE,
    MOTO_INSTANCE_TYPE,
    DocCode,
    Wire,
    assert_nothing_left,
    assert_sent_like_the_cli,
    assert_update_keeps_the_variant_properties,
    assert_vectors_match,
    sdk_config,
    seller_package,
)

pytestmark = pytest.mark.sagemaker_sdk
ENVIRONMENT = {"EMB_MAX_BATCH_TOKENS": "32768"}  # the page's container environment
POLL_S = 1  # v2 checks the endpoint every 30 s (a default argument); moto's endpoints are InService at once


@pytest.fixture
def page(aws: Any, server_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> DocCode:
    """The v2 blocks after their settings step, the session's SageMaker client recording into ``page["wire"]``."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", server_url)  # AWS_ENDPOINT_URL (moto) for the rest
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(sdk_config(tmp_path)))
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    from sagemaker.session import Session

    poll, *rest = Session.wait_for_endpoint.__defaults__
    monkeypatch.setattr(Session.wait_for_endpoint, "__defaults__", (POLL_S, *rest))
    code = DocCode("v2")
    code.run("settings")
    assert code["instance_type"] == DOC_INSTANCE_TYPE
    code["instance_type"] = MOTO_INSTANCE_TYPE
    code["wire"] = Wire()
    code["sagemaker_session"].sagemaker_client.meta.events.register("before-call", code["wire"])
    return code


def sagemaker(page: DocCode) -> Any:
    return page["sagemaker_session"].sagemaker_client


def test_the_image_deploys_like_the_cli_and_serves_sentence_transformers_vectors(page: DocCode, reference: Any) -> None:
    page.run("deploy")
    assert_sent_like_the_cli(page["wire"], page, ENVIRONMENT)
    assert sagemaker(page).describe_endpoint(EndpointName="emb-sdk")["EndpointStatus"] == "InService"

    page.run("invoke")
    assert_vectors_match(page["texts"], page["vectors"], reference)
    assert page["result"]["model"] == "all-MiniLM-L6-v2"

    page.run("delete")
    assert_nothing_left(sagemaker(page))


def test_the_marketplace_package_deploys_with_the_same_code(page: DocCode, reference: Any) -> None:
    arn = seller_package(sagemaker(page))
    page["wire"].calls.clear()
    source = page.blocks["package"]
    placeholder = re.search(r'^model_package_arn = "([^"]+)"$', source, re.M)
    assert placeholder and placeholder[1].startswith("arn:aws:sagemaker:us-east-1:<seller-account>:model-package/")
    page.blocks["package"] = source.replace(placeholder[1], arn)  # the package moto holds
    page.run("package")
    page.run("deploy")

    (model,) = page["wire"].bodies("CreateModel")
    assert model["Containers"] == [{"ModelPackageName": arn}]  # v2 sends a package as a one-container list
    assert model["EnableNetworkIsolation"] is True  # the package has a ProductId (a Marketplace listing): v2 sets it
    page.run("invoke")
    assert_vectors_match(page["texts"], page["vectors"], reference)
    page.run("delete")
    assert_nothing_left(sagemaker(page))


def test_an_update_keeps_the_variant_properties(page: DocCode, aws: Any) -> None:
    assert_update_keeps_the_variant_properties(page, aws, sagemaker(page))
