"""Media types the service reads and writes: the one place they are spelled."""

from __future__ import annotations

JSON = "application/json"
JSONLINES = "application/jsonlines"
CSV = "text/csv"

# Request bodies accepted: exactly what the Marketplace model package declares (marketplace/model_package.py).
ACCEPTED_CONTENT_TYPES = (JSON, JSONLINES, CSV)
# Response bodies produced.
RESPONSE_TYPES = (JSON, JSONLINES)
# Batch Transform record bodies: one input per line.
RECORD_TYPES = (JSONLINES, CSV)
