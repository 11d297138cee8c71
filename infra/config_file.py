"""Deploy configuration files shared by the cloud IaC packages: a JSON file plus command-line overrides."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ValidationError


def read_json_object(path: str | Path) -> dict[str, Any]:
    """A config file's JSON object (anything else is a ``ValueError`` naming the file)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def layered(file_data: Mapping[str, Any], env_defaults: Mapping[str, str], flags: Mapping[str, Any]) -> dict[str, Any]:
    """Config values by precedence: flags (non-None) > the file > environment variables (``env_defaults``: field ->
    variable, used only for fields the file leaves out)."""
    data = dict(file_data)
    for field, var in env_defaults.items():
        if field not in data and os.environ.get(var):
            data[field] = os.environ[var]
    data.update({k: v for k, v in flags.items() if v is not None})
    return data


def run_cli(run: Callable[[], int], sdk_module: str, sdk_label: str) -> int:
    """Run a CLI command: exit 2 on bad input (validation errors name the field, never the value: it may be a
    secret), 1 on the cloud SDK's errors (modules under ``sdk_module``, printed with ``sdk_label``)."""
    try:
        return run()
    except ValidationError as exc:
        for err in exc.errors(include_input=False, include_url=False):
            print(f"error: {'.'.join(map(str, err['loc'])) or 'config'}: {err['msg']}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if type(exc).__module__.startswith(sdk_module):
            print(f"{sdk_label}: {exc}", file=sys.stderr)
            return 1
        raise


class FileConfig(BaseModel):
    """A pydantic config that also loads from a JSON file."""

    @classmethod
    def from_file(cls, path: str | Path | None, **overrides: object) -> Self:
        """Validate a JSON file (optional) plus ``overrides``; non-None overrides win over the file."""
        return cls.model_validate(layered(read_json_object(path) if path is not None else {}, {}, overrides))


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


def check_image(value: str, registry: tuple[re.Pattern[str], str] | None = None) -> str:
    """A container image reference pinned by tag or digest (never ``:latest``); ``registry``: a pattern the
    reference must match and the message when it does not (platforms that pull from one registry only)."""
    if not value or any(ch.isspace() for ch in value):
        raise ValueError("image must be a non-empty reference without whitespace")
    if registry is not None and not registry[0].match(value):
        raise ValueError(registry[1])
    last = value.rsplit("/", 1)[-1]
    if "@sha256:" not in value and ":" not in last:
        raise ValueError("pin the image by tag or digest (repo:tag or repo@sha256:...)")
    if last.endswith(":latest"):
        raise ValueError("':latest' is not reproducible; pin a version tag or a digest")
    return value
