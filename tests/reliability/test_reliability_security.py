"""Security properties checked on a real server's logs and defaults.

Covered elsewhere (not repeated here): remote model code refused unless EMB_TRUST_REMOTE_CODE
(tests/model/test_tasks.py::test_model_code_is_refused_unless_trust_remote_code), pickle weights refused
(tests/model/test_architectures.py::test_pickle_weights_are_refused and the truncated/pickle-only folders in
test_reliability_faults.py), SSRF (tests/unit/test_images.py: URLs off by default, non-public addresses
refused), image bombs (tests/fuzz/test_fuzz_images.py).
"""

from __future__ import annotations

import json
import socket

from inference.settings import Settings
from tests.reliability.harness import HOST, post_json, request

SECRET_TEXT = "SECRET-INPUT-TEXT-1f9c2"
SECRET_TOKEN = "SECRET-BEARER-TOKEN-77ab3"


def test_logs_never_contain_request_text_or_credentials(minilm_server):
    port = minilm_server.port
    auth = {"Authorization": f"Bearer {SECRET_TOKEN}", "X-Api-Key": SECRET_TOKEN, "Cookie": f"s={SECRET_TOKEN}",
            "Content-Type": "application/json"}
    bodies = [
        {"input": [SECRET_TEXT, f"{SECRET_TEXT} again"]},                      # 200
        {"input": SECRET_TEXT, "task": SECRET_TEXT},                            # 400 echoes the task to the client
        {"input": [SECRET_TEXT], "dimensions": 10_000},                         # 400
        {"input": [f"{SECRET_TEXT} " * 400], "truncate": False},                # 400 too long
        {"input": [{"image": SECRET_TEXT}]},                                    # 400 text-only model
    ]
    for body in bodies:
        reply = request(port, "POST", "/invocations", json.dumps(body).encode(), auth)
        assert reply.status in (200, 400), reply.body
    raw = f'{{"input": "{SECRET_TEXT}'.encode()                                  # 400 broken JSON
    assert request(port, "POST", "/invocations", raw, auth).status == 400
    assert request(port, "POST", f"/nope?text={SECRET_TEXT}&key={SECRET_TOKEN}", b"{}", auth).status == 404
    with socket.create_connection((HOST, port), timeout=10) as sock:            # the HTTP front's own 400
        sock.sendall(f"GET /ping HTTP/1.1\r\nHost: x\r\nAuthorization Bearer {SECRET_TOKEN}\r\n\r\n".encode())
        answer = sock.recv(4096)
        assert b" 400 " in answer and SECRET_TOKEN.encode() not in answer  # not even echoed to the client
    assert post_json(port, {"input": "flush"}).status == 200

    log = minilm_server.log_text()
    assert '"path": null, "status": 400' in log  # the front logged the malformed request, without its bytes
    assert SECRET_TEXT not in log
    assert SECRET_TOKEN not in log
    records = list(minilm_server.log_records())
    access = [r for r in records if r.get("logger") == "inference.access"]
    fields = {"ts", "level", "logger", "pid", "msg", "id", "method", "path", "status", "inputs", "tokens", "ms", "shed",
              "key"}  # "key": an API key's name (keys are off here: null)
    assert access and all(set(r) <= fields for r in access)


def test_default_settings_are_the_safe_ones(monkeypatch):
    for name in ("EMB_TRUST_REMOTE_CODE", "EMB_ALLOW_IMAGE_URLS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.trust_remote_code is False
    assert settings.allow_image_urls is False
