"""The one exception the client raises for a failed call."""

from __future__ import annotations


class EmbeddingServiceError(Exception):
    """A failed call. ``status`` is the HTTP status (0: no response); ``retryable`` drives the retry loop."""

    def __init__(
        self, status: int, code: str, message: str, *, retryable: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.retryable, self.retry_after = retryable, retry_after
