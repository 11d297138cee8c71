"""The settings of the HTTP front's connections, a part of ``Settings`` (settings.py), which reads them from the
environment with the rest (the same way as settings_access.py)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .settings_access import env_alias as _env


class ConnectionSettings(BaseSettings):
    """What one worker's HTTP front allows its connections (runtime/limits.py; docs/performance/reliability.md)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    header_timeout_s: float = Field(
        10.0,
        gt=0,
        validation_alias=_env("EMB_HEADER_TIMEOUT_S"),
        description="A request head (request line and headers) must arrive within this many seconds of its first "
        "byte or of the connection opening; else 408 and the connection is closed.",
    )
    keepalive_s: float = Field(
        75.0,
        gt=0,
        validation_alias=_env("EMB_KEEPALIVE_S"),
        description="How long a kept-alive connection may wait for its next request (above the 60 s idle timeout "
        "of AWS and Azure load balancers).",
    )
    max_connections: int = Field(
        1000,
        ge=1,
        validation_alias=_env("EMB_MAX_CONNECTIONS"),
        description="Open connections per worker. At the limit the connection idle the longest is closed to make "
        "room for a new one; only when none is idle is the new one answered 503 and closed. Above half of it, "
        "kept-alive connections wait 5 s (not `EMB_KEEPALIVE_S`) for their next request. The server raises its "
        "open-file limit to the hard limit at start.",
    )
    max_connections_per_client: int = Field(
        0,
        ge=0,
        validation_alias=_env("EMB_MAX_CONNECTIONS_PER_CLIENT"),
        description="Open connections per worker from one client address; at the limit that address's longest "
        "idle connection is closed for its new one (503 when none is idle). 0: half of `EMB_MAX_CONNECTIONS` "
        "(behind a proxy or load balancer every client has its address).",
    )
    body_memory_mb: float = Field(
        64.0,
        gt=0,
        validation_alias=_env("EMB_BODY_MEMORY_MB"),
        description="Request bodies one worker holds in memory while reading them, all connections together (MiB); "
        "past it bodies go to temporary files in `TMPDIR`.",
    )
    spool_disk_mb: float | None = Field(
        None,
        gt=0,
        validation_alias=_env("EMB_SPOOL_DISK_MB"),
        description="Request bodies one worker holds in temporary files (MiB); a body that fits neither this nor "
        "`EMB_BODY_MEMORY_MB` is refused 503 + Retry-After before it is read, and the last 256 MiB of the disk are "
        "never used (a full disk answers 507). Default: 2 GiB, or twice `EMB_MAX_BODY_MB` if more (async).",
    )
