"""AIP_STORAGE_URI: the model copied from Cloud Storage by Google's client, against a local fake of the JSON API
(``STORAGE_EMULATOR_HOST``, tests/fake_gcs.py): the objects list and media download calls the client makes; the
copy's progress (``storage_copy``), and no fallback to the embedded model when the copy is missing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from inference.model_dir import fetch_storage_model, resolve_model_dir
from inference.storage_copy import COPYING, LISTING, CopyStatus, Reporter, copy_prefix
from tests.conftest import make_settings
from tests.fake_gcs import FakeGcs
from tests.fake_gcs import fake_gcs as serve_fake_gcs

OBJECTS = {
    "models/m/config.json": b'{"model_type": "bert"}',
    "models/m/sub/tokenizer.json": b"{}",
    "models/m/": b"",  # a folder placeholder, as the console creates
    "models/m2/config.json": b"{}",  # a sibling prefix: not copied
    "other/x": b"x",
}


@pytest.fixture
def fake_gcs(monkeypatch) -> Iterator[list[str]]:
    with serve_fake_gcs(FakeGcs(OBJECTS)) as state:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", state.url)
        yield state.seen


def test_the_prefix_is_copied_checked_and_served_as_model_dir(fake_gcs, tmp_path):
    settings = make_settings(storage_uri="gs://bucket/models/m/", model_dir=None)
    served = fetch_storage_model(settings, dest=tmp_path / "model")
    assert served.model_dir == tmp_path / "model"
    assert (tmp_path / "model" / "config.json").read_bytes() == OBJECTS["models/m/config.json"]
    assert (tmp_path / "model" / "sub" / "tokenizer.json").is_file()
    assert sorted(p.name for p in (tmp_path / "model").rglob("*") if p.is_file()) == ["config.json", "tokenizer.json"]
    assert resolve_model_dir(served) == tmp_path / "model"
    assert any(path.endswith("/o") for path in fake_gcs)


def test_a_prefix_of_several_models_is_served_as_a_set(fake_gcs, tmp_path):
    from inference.model_set import served_models

    served = fetch_storage_model(make_settings(storage_uri="gs://bucket/models/", model_dir=None), dest=tmp_path / "s")
    assert served.model_dir == tmp_path / "s"
    assert [model.name for model in served_models(served)] == ["m", "m2"]


def test_a_location_without_a_model_fails(fake_gcs, tmp_path):
    with pytest.raises(FileNotFoundError, match="AIP_STORAGE_URI=gs://bucket/other"):
        fetch_storage_model(make_settings(storage_uri="gs://bucket/other", model_dir=None), dest=tmp_path / "m")


def test_model_dir_wins_and_no_uri_changes_nothing(tmp_path):
    settings = make_settings(storage_uri="gs://bucket/models/m", model_dir=tmp_path)
    assert fetch_storage_model(settings, dest=tmp_path / "x") is settings
    plain = make_settings(storage_uri=None, model_dir=None)
    assert fetch_storage_model(plain, dest=tmp_path / "x") is plain and not Path(tmp_path / "x").exists()


def test_not_a_gs_uri_is_refused(tmp_path):
    with pytest.raises(ValueError, match="gs://bucket/prefix"):
        fetch_storage_model(make_settings(storage_uri="s3://bucket/m", model_dir=None), dest=tmp_path / "m")


def test_the_variable_is_read_from_the_environment(monkeypatch):
    from inference.settings import Settings

    monkeypatch.setenv("AIP_STORAGE_URI", "gs://b/p")
    assert Settings().storage_uri == "gs://b/p"


def test_the_copy_reports_its_bytes_and_files_as_they_arrive(fake_gcs, tmp_path):
    seen: list[CopyStatus] = []
    last = copy_prefix("gs://bucket/models/m", tmp_path / "m", seen.append)
    total = len(OBJECTS["models/m/config.json"]) + len(OBJECTS["models/m/sub/tokenizer.json"])
    assert (last.files, last.files_total, last.bytes, last.bytes_total) == (2, 2, total, total)
    assert [s.state for s in seen[:2]] == [LISTING, COPYING] and seen[1].bytes == 0
    assert [s.bytes for s in seen] == sorted(s.bytes for s in seen)  # bytes only grow, file after file
    assert last.progress() == f"{total} of {total} bytes, 2 of 2 files"


def test_the_status_file_is_throttled_and_the_progress_logged(tmp_path, caplog):
    clock = [0.0]
    path = tmp_path / "status.json"
    report = Reporter(path, log_every_s=10, parent=os.getppid(), clock=lambda: clock[0])
    report(CopyStatus("gs://b/p", COPYING, files_total=2, bytes_total=100))
    report(CopyStatus("gs://b/p", COPYING, files_total=2, bytes=10, bytes_total=100))  # too soon: not written
    assert CopyStatus.read(path).bytes == 0
    clock[0] = 1.0
    with caplog.at_level("INFO", logger="inference.storage_copy"):
        report(CopyStatus("gs://b/p", COPYING, files_total=2, bytes=20, bytes_total=100))
        clock[0] = 11.0
        report(CopyStatus("gs://b/p", COPYING, files=1, files_total=2, bytes=50, bytes_total=100))
    assert CopyStatus.read(path).bytes == 50
    logged = [r.getMessage() for r in caplog.records]
    assert logged == ["AIP_STORAGE_URI=gs://b/p: copying, 50 of 100 bytes, 1 of 2 files"]


def test_settings_naming_a_gs_model_never_fall_back_to_the_embedded_one(tmp_path):
    """Were the copy dropped, the worker would get AIP_STORAGE_URI without a model folder: it must fail loudly, not
    serve all-MiniLM-L6-v2 under the deployment's name."""
    with pytest.raises(FileNotFoundError, match="AIP_STORAGE_URI=gs://bucket/models/m was not copied"):
        resolve_model_dir(make_settings(storage_uri="gs://bucket/models/m", model_dir=None))
    (tmp_path / "config.json").write_text("{}")
    assert resolve_model_dir(make_settings(storage_uri="gs://bucket/models/m", model_dir=tmp_path)) == tmp_path
