from pathlib import Path

from inference.settings import env_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_env_table_is_generated_from_settings():
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- env-table:start -->", 1)[1].split("<!-- env-table:end -->", 1)[0]
    assert block.strip() == env_table(), "run: python -m tools.update_readme_env"


def test_readme_test_command_is_what_ci_runs():
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in README.read_text(encoding="utf-8") and "make test" in ci
