"""SageMaker Python SDK v3 (``sagemaker.core`` resources): the page's code deploys, invokes, updates and deletes.

Runs docs/guides/sagemaker/python-sdk.md's ``v3`` blocks as written: the control plane in moto (server mode), the
``InvokeEndpoint`` calls answered by the real server (embedded model); botocore's service endpoint variables point
the SDK there. Needs sagemaker-core (``make test-sagemaker-sdk``: its own venv; not part of ``make test``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sagemaker.core.resources", reason="sagemaker-core (SDK v3) not installed: make test-sagemaker-sdk")

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
    sagemaker_like_describes,
    sdk_config,
    seller_package,
)

pytestmark = pytest.mark.sagemaker_sdk
ENVIRONMENT = {"EMB_MAX_BATCH_TOKENS": "32768"}  # the page's container environment


@pytest.fixture
def page(aws: Any, server_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> DocCode:
    """The v3 blocks after their settings step, the session recording every request into ``page["wire"]``."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", server_url)  # AWS_ENDPOINT_URL (moto) for the rest
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(sdk_config(tmp_path)))
    sagemaker_like_describes(monkeypatch)
    from sagemaker.core.utils.utils import SageMakerClient

    SageMakerClient.reset()  # the SDK caches a client per session: drop earlier tests' ones
    code = DocCode("v3")
    code.run("settings")
    assert code["instance_type"] == DOC_INSTANCE_TYPE
    code["instance_type"] = MOTO_INSTANCE_TYPE
    code["wire"] = Wire()
    code["session"].events.register("before-call", code["wire"])
    return code


def sagemaker(page: DocCode) -> Any:
    return page["session"].client("sagemaker")


def test_the_image_deploys_like_the_cli_and_serves_sentence_transformers_vectors(page: DocCode, reference: Any) -> None:
    page.run("deploy")
    assert_sent_like_the_cli(page["wire"], page, ENVIRONMENT)
    assert sagemaker(page).describe_endpoint(EndpointName="emb-sdk")["EndpointStatus"] == "InService"

    page.run("invoke")
    assert_vectors_match(page["texts"], page["vectors"], reference)
    assert page["result"]["model"] == "all-MiniLM-L6-v2"
    assert page["wire"].operations()[-1] == "InvokeEndpoint"

    page.run("delete")
    assert_nothing_left(sagemaker(page))


def test_the_marketplace_package_deploys_with_the_same_code(page: DocCode, reference: Any) -> None:
    arn = seller_package(sagemaker(page))
    page.run("package")
    assert page["model_package_arn"].startswith("arn:aws:sagemaker:us-east-1:<seller-account>")
    page["container"] = page["ContainerDefinition"](model_package_name=arn)  # the package moto holds
    page.run("deploy")

    (model,) = page["wire"].bodies("CreateModel")
    assert model["PrimaryContainer"] == {"ModelPackageName": arn}
    assert model["EnableNetworkIsolation"] is True
    page.run("invoke")
    assert_vectors_match(page["texts"], page["vectors"], reference)
    page.run("delete")
    assert_nothing_left(sagemaker(page))


def test_an_update_keeps_the_variant_properties(page: DocCode, aws: Any) -> None:
    assert_update_keeps_the_variant_properties(page, aws, sagemaker(page))
