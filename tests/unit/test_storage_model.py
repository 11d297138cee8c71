"""AIP_STORAGE_URI: the model copied from Cloud Storage by Google's client, against a local fake of the JSON API
(``STORAGE_EMULATOR_HOST``): the objects list and media download calls the client makes."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from inference.model_dir import fetch_storage_model, resolve_model_dir
from tests.conftest import make_settings

OBJECTS = {
    "models/m/config.json": b'{"model_type": "bert"}',
    "models/m/sub/tokenizer.json": b"{}",
    "models/m/": b"",  # a folder placeholder, as the console creates
    "models/m2/config.json": b"{}",  # a sibling prefix: not copied
    "other/x": b"x",
}


class _FakeGcs(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/")]
        self.server.seen.append(url.path)  # type: ignore[attr-defined]
        if url.path.startswith("/storage/v1/b/") and parts[-1] == "o":  # objects.list
            prefix = query.get("prefix", [""])[0]
            items = [{"name": n, "bucket": parts[4], "size": str(len(b))} for n, b in OBJECTS.items()
                     if n.startswith(prefix)]  # fmt: skip
            return self._send(json.dumps({"kind": "storage#objects", "items": items}).encode(), "application/json")
        if "/o/" in url.path and query.get("alt") == ["media"]:  # objects.get media
            name = urllib.parse.unquote(url.path.split("/o/", 1)[1])
            if name in OBJECTS:
                return self._send(OBJECTS[name], "application/octet-stream")
        self._send(b'{"error": {"code": 404}}', "application/json", 404)

    def _send(self, body: bytes, mime: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_gcs(monkeypatch) -> Iterator[list[str]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeGcs)
    server.seen = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{server.server_port}")
    yield server.seen  # type: ignore[attr-defined]
    server.shutdown()


def test_the_prefix_is_copied_checked_and_served_as_model_dir(fake_gcs, tmp_path):
    settings = make_settings(storage_uri="gs://bucket/models/m/", model_dir=None)
    served = fetch_storage_model(settings, dest=tmp_path / "model")
    assert served.model_dir == tmp_path / "model"
    assert (tmp_path / "model" / "config.json").read_bytes() == OBJECTS["models/m/config.json"]
    assert (tmp_path / "model" / "sub" / "tokenizer.json").is_file()
    assert sorted(p.name for p in (tmp_path / "model").rglob("*") if p.is_file()) == ["config.json", "tokenizer.json"]
    assert resolve_model_dir(served) == tmp_path / "model"
    assert any(path.endswith("/o") for path in fake_gcs)


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
