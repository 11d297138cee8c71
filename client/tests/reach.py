"""Clients of one real server over every transport, and a recorder of what each request sent and got back."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from embedding_client import EmbeddingClient, EmbeddingServiceError


class Credentials:
    token, valid, expired = "ya29.test", True, False


def clients(url: str, **kwargs: Any) -> dict[str, EmbeddingClient]:
    """One client per transport, all reaching the server at ``url``."""
    vertex = {"credentials": Credentials(), "api_endpoint": url, **kwargs}
    return {
        "local": EmbeddingClient.local(url, **kwargs),
        "sagemaker": EmbeddingClient("my-colbert", "us-east-1", endpoint_url=url, **kwargs),
        "azure": EmbeddingClient.azure(f"{url}/invocations", "key", **kwargs),
        "vertex": EmbeddingClient.vertex("my-project", "us-central1", "1234567890", **vertex),
        "vertex-raw": EmbeddingClient.vertex("my-project", "us-central1", "1234567890", raw=True, **vertex),
    }


class Recording:
    """Wraps a client's transport: each request's input count and its answer's size (an error: its status, a str)."""

    def __init__(self, client: EmbeddingClient) -> None:
        self.sent: list[tuple[int, int | str]] = []
        transport = client.transport
        name = "post_path" if client._local() is not None else "post"
        original: Callable[..., bytes] = getattr(transport, name)

        def record(*args: Any) -> bytes:
            body = json.loads(next(arg for arg in args if isinstance(arg, bytes)))  # post(body, kind), post_path
            count = len(body["input"] if "input" in body else body["inputs"])  # TEI's sparse body: "inputs"
            try:
                answer = original(*args)
            except EmbeddingServiceError as err:
                self.sent.append((count, str(err.status)))
                raise
            self.sent.append((count, len(answer)))
            return answer

        setattr(transport, name, record)

    @property
    def counts(self) -> list[int]:
        return [count for count, _ in self.sent]
