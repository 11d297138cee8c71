"""The environment-variable table, rendered from the settings' fields: the documentation site's configuration
reference (docs/hooks/reference.py puts it in docs/reference/configuration.md at build time);
``python -m inference.env_table`` prints it."""

from __future__ import annotations

from pydantic import AliasChoices

from .settings import MODE_DEFAULTS, Settings
from .settings_access import AccessSettings
from .settings_connections import ConnectionSettings
from .settings_images import ImageSettings


def env_table() -> str:
    rows = ["| Variable | Default | Description |", "| --- | --- | --- |"]
    # the service's own settings first, then connections, images, and API keys and rate limits
    parts = [set(part.model_fields) for part in (ConnectionSettings, ImageSettings, AccessSettings)]

    def place(item: tuple[str, object]) -> int:
        return next((i + 1 for i, names in enumerate(parts) if item[0] in names), 0)

    for name, field in sorted(Settings.model_fields.items(), key=place):
        alias = field.validation_alias
        names = " / ".join(f"`{n}`" for n in alias.choices) if isinstance(alias, AliasChoices) else ""
        default = "" if field.default is None else f"`{field.default}`"
        if name in MODE_DEFAULTS:
            default = ", ".join(f"{mode} `{value:g}`" for mode, value in MODE_DEFAULTS[name].items())
        rows.append(f"| {names} | {default} | {field.description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(env_table())
