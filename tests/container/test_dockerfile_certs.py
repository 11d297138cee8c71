"""No build-time CA certificate in any image layer (static: reads container/Dockerfile, no Docker needed).

container/certs/ holds extra CAs for builds behind TLS-inspecting proxies. A ``COPY``/``ADD`` of them, even one
a later ``RUN`` deletes, leaves them in a layer of the image (``docker save`` shows them). So: no instruction
copies them; the steps that need them bind-mount the folder for their own duration; the final stage's step
removes them from the trust store in the same ``RUN``; and build.sh turns BuildKit on (``RUN --mount``)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "container" / "Dockerfile"
CERTS = "container/certs"


def instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` per instruction, continuation lines joined and comments dropped."""
    logical, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    return [(parts[0].upper(), parts[1] if len(parts) > 1 else "") for parts in (i.split(None, 1) for i in logical)]


def stages(steps: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for name, args in steps:
        if name == "FROM":
            found.append([])
        if found:
            found[-1].append((name, args))
    return found


def test_no_instruction_copies_the_build_certificates() -> None:
    for name, args in instructions(DOCKERFILE.read_text()):
        if name in ("COPY", "ADD"):
            assert CERTS not in args and "extra-ca" not in args, f"{name} {args}"


def test_the_steps_that_trust_them_mount_them_and_the_final_one_drops_them() -> None:
    all_stages = stages(instructions(DOCKERFILE.read_text()))
    mounting = [(i, args) for i, stage in enumerate(all_stages) for name, args in stage
                if name == "RUN" and CERTS in args]  # fmt: skip
    assert mounting, "the build no longer trusts container/certs/"
    for _, args in mounting:
        assert re.match(rf"--mount=type=bind,source={CERTS},target=/tmp/extra-ca\s", args), args
    final = [args for i, args in mounting if i == len(all_stages) - 1]
    assert final and all("install-python.sh --runtime" in args for args in final)  # removes them (next test)


def test_the_runtime_step_leaves_no_extra_ca_in_the_trust_store() -> None:
    script = (REPO / "container" / "image" / "install-python.sh").read_text()
    runtime = script[script.index("if [[ $mode == --runtime ]]"):]
    assert 'rm -rf "$local_ca"' in runtime and "update-ca-certificates --fresh" in runtime
    assert "rm -f /etc/embed-build-ca.pem" in runtime


def test_build_sh_builds_with_buildkit() -> None:
    """BuildKit on, and a CLI that can use it: the default one with buildx, else a 20.10 one (docker.io)."""
    build = (REPO / "container" / "build.sh").read_text()
    assert re.search(r"^export DOCKER_BUILDKIT=1$", build, re.MULTILINE)
    run = build.index('"$builder" build -f container/Dockerfile')
    assert build.index("export DOCKER_BUILDKIT=1") < build.index("docker buildx version") < run
