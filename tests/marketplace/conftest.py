"""Fixtures: moto server (SageMaker + S3) whose transform jobs really run against the local embedding server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest
from marketplace_testing import FAKE_CREDENTIALS, REGION, install_transform_runner

from marketplace.local_server import free_port, local_server


@pytest.fixture(scope="session")
def aws_env() -> Iterator[dict[str, str]]:
    """Fake credentials for this process (and for notebook kernels, which get the same dict)."""
    saved = {key: os.environ.get(key) for key in FAKE_CREDENTIALS}
    os.environ.update(FAKE_CREDENTIALS)
    try:
        yield dict(FAKE_CREDENTIALS)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def container_url() -> Iterator[str]:
    """The real server process with the embedded model: the stand-in for the container."""
    with local_server() as url:
        yield url


@pytest.fixture(scope="session")
def moto_url(aws_env) -> Iterator[str]:
    """A moto server (all services) on a free port of 127.0.0.1."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def moto_with_transforms(moto_url, container_url) -> Iterator[str]:
    """moto whose CreateTransformJob really runs the job against ``container_url`` (S3 in moto). Module-scoped: the
    patch of moto's backend is undone after the module, so later tests (tests/infra in the same run) get plain moto."""
    undo = install_transform_runner(s3_url=moto_url, container_url=container_url)
    try:
        yield moto_url
    finally:
        undo()


@pytest.fixture
def aws(moto_url):
    """boto3 clients against moto."""

    class Clients:
        sagemaker = boto3.client("sagemaker", region_name=REGION, endpoint_url=moto_url)
        s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_url)

    return Clients
