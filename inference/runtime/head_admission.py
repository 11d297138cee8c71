"""What the HTTP front refuses from a request's head, before it reads the body (front.py): a request that would
be refused anyway once read. In order: a body over the limit (413), no app thread or wait slot left (503), what
the app's head gate says (401, 415, 503 when the queued work leaves no room: api/head_gate.py), no room in the
worker's body budget (503: bodies.py). Health probes are never judged here."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import OverloadedError, PayloadTooLargeError, ServingError
from .bodies import BodyBudget
from .limits import FrontLimits, HeadGate, Probes
from .wsgi_call import HttpRequest


class HeadAdmission:
    """``refusal(request, in_flight)``: the error to answer at once, or None to read the body. Loop thread only."""

    def __init__(self, limits: FrontLimits, probes: Probes, gate: HeadGate, bodies: BodyBudget,
                 on_refused: Callable[[int], None]) -> None:  # fmt: skip
        self._limits, self._probes, self._gate, self._bodies = limits, probes, gate, bodies
        self._on_refused = on_refused

    def refusal(self, request: HttpRequest, in_flight: int) -> ServingError | None:
        if request.path in self._probes.all:
            return None
        fields = dict(request.headers)
        length = request.content_length
        if length is not None and length > self._limits.max_body_bytes:
            return PayloadTooLargeError("request body is larger than the configured limit")
        refusal = self.at_capacity(in_flight, count=False) or self._gate(request.method, request.path, fields, length)
        if refusal is None and length is not None and not self._bodies.room_for(length):
            refusal = OverloadedError("request bodies being received fill this worker's memory and temporary "
                                      "space; retry shortly")  # fmt: skip
        if refusal is not None:
            self._on_refused(refusal.status)
        return refusal

    def at_capacity(self, in_flight: int, *, count: bool = True) -> ServingError | None:
        """The 503 when the app's threads and wait slots are all taken (checked from the head, and again once the
        body is read: bodies read meanwhile may have filled them); ``count``: the metrics count it here."""
        if in_flight < self._limits.threads + self._limits.max_waiting:
            return None
        if count:
            self._on_refused(503)
        return OverloadedError("server is at capacity; retry shortly")
