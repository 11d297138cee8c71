"""The handler registry has no import circle: every ``from .module import`` between handler modules (module-level or
inside a function) points one way, so each family's file can be read, loaded and replaced on its own."""

from __future__ import annotations

import ast
from pathlib import Path

HANDLERS = Path(__file__).resolve().parents[2] / "inference" / "handlers"


def handler_imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in HANDLERS.glob("*.py"):
        name = path.stem
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                target = node.module.split(".")[0]
                if (HANDLERS / f"{target}.py").is_file() and target != name:
                    graph[name].add(target)
    return graph


def test_no_handler_module_imports_one_that_imports_it_back():
    graph = handler_imports()
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        assert name not in visiting, f"import circle: {' -> '.join([*visiting[visiting.index(name):], name])}"
        if name in done:
            return
        visiting.append(name)
        for target in sorted(graph[name]):
            visit(target)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    assert "jina" in graph and "jina_v3" in graph  # the families that used to import each other are read
