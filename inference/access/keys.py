"""API keys: ``EMB_API_KEY`` and/or a JSON key file (``EMB_API_KEYS_FILE``) of named keys with their own limits.

Only SHA-256 digests are held in memory, and a presented key is compared with every one of them in constant
time (``hmac.compare_digest``, no early exit): response time says nothing about which key, or how much of one,
matched. Keys never reach a log or an error message; a key is known by its ``name`` (the key file's, or
``key-`` and the first 8 hex digits of its digest).

The file is read again whenever it changes (its inode, size or modification time: a Kubernetes Secret update
swaps the file under its mount); a file that no longer parses is logged and the keys read before stay in force.

File format (``rpm`` / ``tpm`` optional: the server's ``EMB_RATE_LIMIT_RPM`` / ``_TPM`` apply; 0 = no limit)::

    {"keys": [
      {"name": "search-team", "key": "sk-...", "rpm": 600, "tpm": 1000000},
      {"name": "batch-jobs", "sha256": "<hex SHA-256 of the key>"}
    ]}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from ..errors import AuthenticationError
from .rate_limit import Limits

log = logging.getLogger(__name__)
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class KeyFileError(ValueError):
    """The key file cannot be read or is not valid; the message names the file and the problem, never a key."""


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    digest: bytes
    rpm: int | None = None  # None: the server's default
    tpm: int | None = None

    def limits(self, default: Limits) -> Limits:
        return Limits(default.rpm if self.rpm is None else self.rpm, default.tpm if self.tpm is None else self.tpm)


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, pattern=NAME_PATTERN)
    key: SecretStr | None = None
    sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$")
    rpm: int | None = Field(None, ge=0)
    tpm: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_secret(self) -> _Entry:
        if (self.key is None) == (self.sha256 is None):
            raise ValueError("give exactly one of 'key' and 'sha256'")
        if self.key is not None and (
            not self.key.get_secret_value()
            or any(c.isspace() or not c.isprintable() for c in self.key.get_secret_value())
        ):
            raise ValueError("a key must be printable and without spaces")  # fmt: skip
        return self

    def api_key(self) -> ApiKey:
        value = digest(self.key.get_secret_value()) if self.key is not None else bytes.fromhex(self.sha256 or "")
        return ApiKey(self.name or f"key-{value.hex()[:8]}", value, self.rpm, self.tpm)


class _KeyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    keys: list[_Entry]


def env_key(value: SecretStr) -> ApiKey:
    return ApiKey("default", digest(value.get_secret_value()))


def parse_key_file(path: Path) -> tuple[ApiKey, ...]:
    """The keys in ``path``; ``KeyFileError`` naming the problem (never the keys) when it is not valid."""
    try:
        raw = json.loads(path.read_bytes())
    except OSError as err:
        raise KeyFileError(f"{path}: cannot be read ({err.strerror or type(err).__name__})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        where = f"line {err.lineno}" if isinstance(err, json.JSONDecodeError) else "encoding"
        raise KeyFileError(f"{path}: not valid JSON ({where})") from None
    try:
        entries = _KeyFile.model_validate(raw).keys
    except ValidationError as err:  # messages without the input values (they may hold keys)
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}"
                             for e in err.errors(include_input=False, include_url=False))  # fmt: skip
        raise KeyFileError(f"{path}: {problems}") from None
    keys = tuple(entry.api_key() for entry in entries)
    names = [key.name for key in keys]
    if len(set(names)) != len(names):
        raise KeyFileError(
            f"{path}: key names must be unique ({', '.join(sorted({n for n in names if names.count(n) > 1}))})"
        )
    if len({key.digest for key in keys}) != len(keys):
        raise KeyFileError(f"{path}: the same key appears twice")
    return keys


def _signature(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns


class KeyRing:
    """The keys in force. ``enabled`` is fixed at start-up: configured keys turn authentication on for good
    (a key file emptied later refuses every call rather than opening the API)."""

    def __init__(self, fixed: tuple[ApiKey, ...], path: Path | None) -> None:
        self._fixed, self._path = fixed, path
        self._lock = threading.Lock()
        self._from_file: tuple[ApiKey, ...] = ()
        self._seen: tuple[int, int, int, int] | None = None
        if path is not None:
            self._seen = _signature(path)
            self._from_file = parse_key_file(path)  # at start-up a bad file is an error (KeyFileError)
        self.enabled = bool(fixed) or path is not None

    @classmethod
    def from_settings(cls, api_key: SecretStr | None, path: Path | None) -> KeyRing:
        return cls((env_key(api_key),) if api_key is not None and api_key.get_secret_value() else (), path)

    def keys(self) -> tuple[ApiKey, ...]:
        self._reload_if_changed()
        return self._fixed + self._from_file

    def authenticate(self, authorization: str | None) -> ApiKey:
        """The key an ``Authorization: Bearer <key>`` header carries; ``AuthenticationError`` (401) otherwise."""
        if not authorization or not authorization.strip():
            raise AuthenticationError("an API key is required: send the header 'Authorization: Bearer <key>'")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("the Authorization header must be 'Bearer <key>'")
        key = self.match(token.strip())
        if key is None:
            raise AuthenticationError("the API key is not valid", invalid_token=True)
        return key

    def match(self, presented: str) -> ApiKey | None:
        """The key ``presented`` is, compared with every key in constant time; None when it is none of them."""
        wanted, found = digest(presented), None
        for key in self.keys():
            if hmac.compare_digest(wanted, key.digest):
                found = key
        return found

    def _reload_if_changed(self) -> None:
        if self._path is None:
            return
        signature = _signature(self._path)
        if signature == self._seen:
            return
        with self._lock:
            if signature == self._seen:
                return
            self._seen = signature
            try:
                keys = parse_key_file(self._path)
            except KeyFileError as err:
                log.error("API key file not reloaded, the %d key(s) read before stay in force: %s",
                          len(self._from_file), err)  # fmt: skip
                return
            self._from_file = keys
            log.info("API key file reloaded: %d key(s)", len(keys))
