"""What an endpoint slice hands back to the web layer: a framework-free response."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reply:
    """A 200 response: the encoded body, its media type, and its usage (``units``: inputs served, which the
    web layer meters; ``tokens``: the usage it logs)."""

    content: bytes
    mime: str
    units: int
    tokens: int
