import os
import subprocess
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
CI_RUN = README.parent / ".ci" / "run"


def readme_test_command() -> str:
    """The Quick start command whose comment says it runs the test suite."""
    quick_start = README.read_text(encoding="utf-8").split("## Quick start", 1)[1].split("```bash", 1)[1]
    [line] = [line for line in quick_start.split("```", 1)[0].splitlines() if "runs the test suite" in line]
    return line.split("#", 1)[0].strip()


def ci_stage_commands() -> list[str]:
    """The command of each stage of .ci/run, in order, from its documented dry run (CI_DRY_RUN=1, not with CI)."""
    env = {key: value for key, value in os.environ.items() if key != "CI"} | {"CI_DRY_RUN": "1"}
    run = subprocess.run(["bash", str(CI_RUN)], env=env, capture_output=True, text=True, timeout=60, check=True)
    prefix = "dry run, would run:"
    return [line.removeprefix(prefix).strip() for line in run.stdout.splitlines() if line.startswith(prefix)]


def test_readme_test_command_is_what_ci_runs():
    # Whole commands: a substring check would pass on "make test-container" or on a stage's title.
    command = readme_test_command()
    assert command
    assert ci_stage_commands()[0] == command  # stage 1 of CI is the README's test command
