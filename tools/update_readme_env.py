"""Rewrite the README's environment table from inference.settings: `python -m tools.update_readme_env`."""

from pathlib import Path

from inference.env_table import env_table

START, END = "<!-- env-table:start -->", "<!-- env-table:end -->"


def main() -> None:
    readme = Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{env_table()}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
