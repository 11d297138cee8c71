"""``infra.sagemaker.cli invoke`` (built on the client) through real boto3 against the real server process."""

from __future__ import annotations

import json

import numpy as np
import requests


def direct(url: str, **body: object) -> list[object]:
    """The server's own answer over plain HTTP (no client code involved)."""
    response = requests.post(f"{url}/invocations", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return [entry["embedding"] for entry in sorted(response.json()["data"], key=lambda e: e["index"])]


def test_cli_invoke_uses_real_boto3_against_the_local_server(local_server: str, fake_aws: None, capsys) -> None:
    from infra.sagemaker.cli import main

    code = main(["invoke", "--endpoint-name", "e", "--endpoint-url", local_server, "--text", "a b", "--text", "c",
                 "--dimensions", "4"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["shape"] == [2, 4]
    np.testing.assert_array_equal(
        np.array(out["embeddings"], np.float32),
        np.array(direct(local_server, input=["a b", "c"], dimensions=4), np.float32),
    )
