"""Body checks every endpoint slice shares: no silent drops (an unknown field is a 400 naming it, with the
closest known name), and pydantic validation errors as ``InvalidInputError`` naming their location."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from ..errors import InvalidInputError

_SHOWN = 64  # characters of an unknown field's name quoted back


def check_fields(body: Mapping[str, Any], known: Sequence[str], where: str = "") -> None:
    """Raise a 400 naming the first key of ``body`` that is not in ``known`` (``where``: the enclosing object)."""
    unknown = next((key for key in body if key not in known), None)
    if unknown is None:
        return
    name = unknown if len(unknown) <= _SHOWN else unknown[:_SHOWN] + "..."
    place = f" in '{where}'" if where else ""
    close = difflib.get_close_matches(unknown, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise InvalidInputError(f"unknown field {name!r}{place}; {hint}accepted fields: {', '.join(known)}")


def validation_error(err: ValidationError) -> InvalidInputError:
    """The first pydantic error as a 400 naming its location (``input[1]``, ``dimensions``)."""
    first = err.errors()[0]
    loc = ".".join(str(part) for part in first["loc"] if not str(part).startswith(("function-", "union")))
    loc = loc.replace("str.", "").replace("list[", "[")
    return InvalidInputError(f"{loc or 'body'}: {first['msg']}", param=loc or None)
