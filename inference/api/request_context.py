"""What the HTTP front (runtime/front.py) tells the app about a request, beyond HTTP: WSGI environ keys.

- ``DEADLINE``: absolute ``time.monotonic()`` seconds by which the request must be answered (set when its
  head arrived: ``EMB_REQUEST_DEADLINE_S`` later).
- ``CANCELLED``: a ``threading.Event`` set when the client closed its connection: its work is dropped.

Both are absent when the app runs without the front (in-process tests); the service then uses its default.
"""

from __future__ import annotations

DEADLINE = "inference.deadline"
CANCELLED = "inference.cancelled"
