"""container/local.sh's samples per kind, without Docker: every body in container/samples/<kind>/ (the folder named
by the kind GET /info reports, which is how local.sh picks it) is answered 200 on /invocations by the app serving a
tiny model of that kind, and container/samples/show.py summarises each answer."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from inference.core.types import CLASSIFY, EMBED, MULTIVECTOR, RERANK, SPARSE
from tests.tiny_classifiers import build_multi_label_classifier
from tests.tiny_colbert import build_pylate_colbert
from tests.tiny_rerankers import build_tiny_bert_reranker
from tests.tiny_sparse import build_tiny_splade

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "container" / "samples"
BUILDERS: dict[str, Callable[[Path], Path]] = {RERANK: build_tiny_bert_reranker, MULTIVECTOR: build_pylate_colbert,
                                               CLASSIFY: build_multi_label_classifier,
                                               SPARSE: build_tiny_splade}  # fmt: skip
# What show.py prints for each sample (in order of the file names).
SHOWN = {
    RERANK: ["results=3", "results=2", "results=2 (TEI format)"],
    MULTIVECTOR: ["inputs=2", "inputs=1", "inputs=1", "results=2"],
    CLASSIFY: ["inputs=2 usage=", "inputs=2 (TEI classification", "inputs=1 (TEI classification"],
    SPARSE: ["inputs=2 (sparse vectors)", "inputs=1 (sparse vectors)"],
}


def test_local_sh_picks_the_folder_named_by_the_kind() -> None:
    script = (REPO / "container" / "local.sh").read_text()
    assert '"$url/info"' in script and 'samples="$samples/$kind"' in script
    assert {path.name for path in SAMPLES.iterdir() if path.is_dir()} == {RERANK, MULTIVECTOR, CLASSIFY, SPARSE}
    assert not (SAMPLES / EMBED).exists()  # an embedding model gets the top-level samples


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_the_samples_of_each_kind_are_answered_and_shown(kind: str, tmp_path: Path) -> None:
    from inference.api.app import create_app
    from inference.settings import Settings

    folder = BUILDERS[kind](tmp_path / kind)
    settings = Settings().model_copy(update={"device": "cpu", "dtype": "float32", "model_dir": folder,
                                             "log_level": "WARNING"})  # fmt: skip
    client = create_app(settings, load_in_background=False).test_client()
    assert client.get("/info").get_json()["kind"] == kind
    samples = sorted((SAMPLES / kind).glob("*.json"))
    assert len(samples) == len(SHOWN[kind])
    for sample, expected in zip(samples, SHOWN[kind], strict=True):
        response = client.post("/invocations", data=sample.read_bytes(), content_type="application/json")
        assert response.status_code == 200, (sample.name, response.get_data(as_text=True))
        shown = subprocess.run([sys.executable, str(SAMPLES / "show.py")], input=response.get_data(), check=False,
                               capture_output=True, timeout=60)  # fmt: skip
        assert shown.returncode == 0, (sample.name, shown.stdout, shown.stderr)
        assert expected in shown.stdout.decode(), (sample.name, shown.stdout.decode())
