"""Deploy configuration files shared by the cloud IaC packages: a JSON file plus command-line overrides."""

from __future__ import annotations

import json
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
