"""Deploy configuration files shared by the cloud IaC packages: a JSON file plus command-line overrides."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Self

from pydantic import BaseModel


class FileConfig(BaseModel):
    """A pydantic config that also loads from a JSON file."""

    @classmethod
    def from_file(cls, path: str | Path | None, **overrides: object) -> Self:
        """Validate a JSON file (optional) plus ``overrides``; non-None overrides win over the file."""
        data: dict[str, object] = {}
        if path is not None:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError(f"{path}: expected a JSON object")
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(data)


ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Variable-name parts that mean "this is a secret" (HF_TOKEN, API_KEY, ...). EMB_MAX_BATCH_TOKENS is fine.
SECRET_NAME_PARTS = frozenset(
    {"KEY", "SECRET", "PASSWORD", "PASSWD", "TOKEN", "CREDENTIAL", "CREDENTIALS", "SAS", "CONNECTIONSTRING"}
)


def check_route(value: str, example: str) -> str:
    """A container route: an absolute path without whitespace (``example`` goes into the message)."""
    if not value.startswith("/") or any(ch.isspace() for ch in value):
        raise ValueError(f"routes are absolute paths such as {example}")
    return value


def check_env_name(name: str, secret_advice: str) -> None:
    """A plain-text environment variable name that does not look like a secret (``secret_advice``: where
    secrets belong on that platform)."""
    if not ENV_NAME_RE.match(name):
        raise ValueError(f"invalid environment variable name {name!r}")
    if SECRET_NAME_PARTS & set(name.upper().split("_")):
        raise ValueError(f"{name!r} looks like a secret; {secret_advice}")
