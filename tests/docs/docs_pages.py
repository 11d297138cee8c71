"""Reading the documentation pages (docs/**/*.md): headings, fenced blocks and the executable-example markers.

The convention (also in docs/architecture/development.md): a fenced block right after a line

    <!-- test: run [server | server="KEY=VALUE ..."] [exit=N] [expect="text"]... [output=next]
                   [requires=TOOL] [timeout=SECONDS] [bad-request] -->

is run by tests/docs/test_docs_examples.py. Blocks without the marker are documentation only (they need cloud
credentials, a GPU or Docker).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
MARKER = re.compile(r"^<!-- test: run(?P<options>.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<ticks>```+)\s*(?P<lang>[\w-]*)")
HEADING = re.compile(r"^(?P<hashes>#{1,6}) (?P<text>.+?)\s*(?:\{#[^}]*\})?\s*$")
OPTIONS = {"server", "exit", "expect", "output", "requires", "timeout", "bad-request"}


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.parts)


def page_name(path: Path) -> str:
    return path.relative_to(DOCS).as_posix()


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # 1-based line of the opening fence
    lang: str
    code: str


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of a page (top-level fences; an indented fence in a list item counts too)."""
    found, lines = [], path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i].lstrip())
        if match:
            indent = len(lines[i]) - len(lines[i].lstrip())
            ticks, start, body = match.group("ticks"), i, []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(ticks):
                body.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i])
                i += 1
            found.append(Block(page_name(path), start + 1, match.group("lang"), "\n".join(body) + "\n"))
        i += 1
    return found


def headings(path: Path) -> list[str]:
    """Heading texts outside fenced blocks (an explicit `{#id}` is left out)."""
    texts, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        match = HEADING.match(line)
        if not fenced and match:
            texts.append(match.group("text"))
    return texts


@dataclass(frozen=True)
class Example:
    block: Block
    options: dict[str, str] = field(default_factory=dict)
    expect: tuple[str, ...] = ()
    output: str | None = None  # the real output shown in the next fenced block (output=next)

    @property
    def id(self) -> str:
        return f"{self.block.page}:{self.block.line}"

    @property
    def server_env(self) -> str | None:
        """None: no server; "": the default server; else its extra environment ("KEY=VALUE ...")."""
        if "server" not in self.options:
            return None
        value = self.options["server"]
        return "" if value == "true" else value


def parse_options(text: str) -> tuple[dict[str, str], tuple[str, ...]]:
    options, expect = {}, []
    for token in shlex.split(text):
        key, _, value = token.partition("=")
        if key not in OPTIONS:
            raise ValueError(f"unknown option {key!r} in <!-- test: run{text} -->")
        if key == "expect":
            expect.append(value)
        else:
            options[key] = value or "true"
    return options, tuple(expect)


def examples(path: Path) -> list[Example]:
    """The marked blocks of a page; a marker not followed by a fence is an error."""
    lines = path.read_text(encoding="utf-8").splitlines()
    by_line = {b.line: b for b in blocks(path)}
    ordered = sorted(by_line)
    found = []
    for index, line in enumerate(lines):
        match = MARKER.match(line)
        if not match:
            continue
        where = f"{page_name(path)}:{index + 1}"
        block = by_line.get(index + 2)  # the fence must be the very next line
        if block is None:
            raise ValueError(f"{where}: a test marker must be followed directly by a fenced block")
        options, expect = parse_options(match.group("options"))
        output = None
        if options.get("output") == "next":
            later = [n for n in ordered if n > block.line]
            if not later:
                raise ValueError(f"{where}: output=next, but no fenced block follows")
            output = by_line[later[0]].code
        found.append(Example(block, options, expect, output))
    return found


def all_examples() -> list[Example]:
    return [example for path in pages() for example in examples(path)]
