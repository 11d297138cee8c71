"""The package's layers, read from its source: imports go one way only, and each framework stays in its layer.

runtime (gunicorn process) -> api (Flask) -> endpoints (slices) -> core / codecs / handlers / access -> base modules.
A lower layer importing a higher one, Flask outside ``api``/``runtime``, or torch outside ``handlers`` fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "inference"
BASE = {"settings", "settings_access", "settings_backend", "settings_connections", "settings_images", "env_table",
        "errors", "mime", "model_dir", "model_set", "storage_copy", "gpu_host", "metrics",
        "__init__"}
# What each part may import from the package (besides itself and the base modules).
ALLOWED = {
    "base": set(),
    "access": set(),
    "core": set(),
    "codecs": set(),
    "handlers": {"core"},
    "endpoints": {"core", "codecs"},
    "api": {"core", "codecs", "endpoints", "handlers", "access"},
    "runtime": {"core", "codecs", "endpoints", "handlers", "api", "access"},
}
# Third-party frameworks and the only parts allowed to import them.
FRAMEWORKS = {
    "torch": {"handlers"},
    "transformers": {"handlers"},
    "onnxruntime": {"handlers"},
    "flask": {"api"},
    "gunicorn": {"runtime"},
}


def part_of(module: Path) -> str:
    relative = module.relative_to(PACKAGE)
    if relative.stem == "__main__":  # `python -m inference`: the entry point, the top layer
        return "runtime"
    if len(relative.parts) == 1:
        return "base" if relative.stem in BASE else relative.stem
    return relative.parts[0]


def imports(module: Path) -> list[str]:
    """Absolute names of every module ``module`` imports (relative imports resolved)."""
    package = ["inference", *module.relative_to(PACKAGE).parent.parts]
    names = []
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, *([node.module] if node.module else [])])
            names += [name] if node.module else [f"{name}.{alias.name}" for alias in node.names]
    return names


def target_part(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "inference" or len(parts) == 1:
        return None
    return "base" if parts[1] in BASE else parts[1]


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("module", MODULES, ids=lambda m: str(m.relative_to(PACKAGE)))
def test_imports_go_one_way(module: Path) -> None:
    part = part_of(module)
    allowed = ALLOWED[part] | {part, "base"}
    wrong = [name for name in imports(module) if (target := target_part(name)) and target not in allowed]
    assert wrong == [], f"{part} may import only {sorted(allowed)}"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: str(m.relative_to(PACKAGE)))
def test_frameworks_stay_in_their_layer(module: Path) -> None:
    part = part_of(module)
    wrong = [name for name in imports(module) if part not in FRAMEWORKS.get(name.split(".")[0], {part})]
    assert wrong == []


def test_no_module_is_a_review_flag() -> None:
    """Small modules with one job each: none over 300 lines."""
    long = {str(m.relative_to(PACKAGE)): n for m in MODULES if (n := len(m.read_text().splitlines())) > 300}
    assert long == {}


def test_the_checks_see_a_violation() -> None:
    """The import reader resolves relative imports: a handler importing the web layer is caught."""
    assert target_part("inference.api.app") == "api" and "api" not in ALLOWED["handlers"]
    tree_names = imports(PACKAGE / "api" / "app.py")
    assert "inference.handlers" in tree_names and "inference.core.engine" in tree_names
