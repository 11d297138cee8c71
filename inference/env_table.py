"""The environment-variable table, rendered from the settings' fields: the documentation site's configuration
reference (docs/hooks/reference.py puts it in docs/reference/configuration.md at build time);
``python -m inference.env_table`` prints it."""

from __future__ import annotations

from pydantic import AliasChoices

from .settings import MODE_DEFAULTS, Settings
from .settings_access import AccessSettings


def env_table() -> str:
    rows = ["| Variable | Default | Description |", "| --- | --- | --- |"]
    # the service's own settings first, then API keys and rate limits
    for name, field in sorted(Settings.model_fields.items(), key=lambda item: item[0] in AccessSettings.model_fields):
        alias = field.validation_alias
        names = " / ".join(f"`{n}`" for n in alias.choices) if isinstance(alias, AliasChoices) else ""
        default = "" if field.default is None else f"`{field.default}`"
        if name in MODE_DEFAULTS:
            default = ", ".join(f"{mode} `{value:g}`" for mode, value in MODE_DEFAULTS[name].items())
        rows.append(f"| {names} | {default} | {field.description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(env_table())
