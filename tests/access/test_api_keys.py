"""API keys (inference/access/keys.py): the Authorization header, the key file, its reload, and no key in any
message."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from inference.access.keys import KeyFileError, KeyRing, parse_key_file
from inference.access.rate_limit import Limits
from inference.errors import AuthenticationError
from inference.settings import Settings

ALPHA, BETA, GAMMA = "sk-alpha-0123456789", "sk-beta-9876543210", "sk-gamma-5555555555"


def write_keys(path: Path, entries: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"keys": entries}))
    return path


def test_off_without_keys() -> None:
    assert not KeyRing.from_settings(None, None).enabled
    assert not KeyRing.from_settings(SecretStr(""), None).enabled


def test_env_key_authenticates_only_a_bearer_header_carrying_it() -> None:
    ring = KeyRing.from_settings(SecretStr(ALPHA), None)
    assert ring.enabled
    assert ring.authenticate(f"Bearer {ALPHA}").name == "default"
    assert ring.authenticate(f"bearer   {ALPHA}  ").name == "default"  # the scheme is case-insensitive
    for header, invalid_token in [(None, False), ("", False), (ALPHA, False), (f"Basic {ALPHA}", False),
                                  ("Bearer ", False), (f"Bearer {BETA}", True), (f"Bearer {ALPHA}x", True),
                                  (f"Bearer {ALPHA[:-1]}", True)]:  # fmt: skip
        with pytest.raises(AuthenticationError) as err:
            ring.authenticate(header)
        assert err.value.status == 401 and err.value.invalid_token is invalid_token, header
        challenge = dict(err.value.headers())["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="embeddings"')
        assert ('error="invalid_token"' in challenge) is invalid_token
        assert ALPHA not in err.value.message and BETA not in err.value.message


def test_key_file_with_several_keys_names_and_limits(tmp_path: Path) -> None:
    gamma_hash = hashlib.sha256(GAMMA.encode()).hexdigest()
    path = write_keys(tmp_path / "keys.json", [
        {"name": "search", "key": ALPHA, "rpm": 600, "tpm": 100000},
        {"key": BETA, "tpm": 0},
        {"name": "batch", "sha256": gamma_hash.upper()},
    ])  # fmt: skip
    ring = KeyRing.from_settings(SecretStr("sk-env-key-000000"), path)
    assert ring.authenticate(f"Bearer {ALPHA}").name == "search"
    assert ring.authenticate(f"Bearer {BETA}").name == "key-" + hashlib.sha256(BETA.encode()).hexdigest()[:8]
    assert ring.authenticate(f"Bearer {GAMMA}").name == "batch"  # stored as a hash only
    assert ring.authenticate("Bearer sk-env-key-000000").name == "default"  # the env key works alongside
    default = Limits(rpm=60, tpm=5000)
    limits = {key.name: key.limits(default) for key in ring.keys()}
    assert limits["search"] == Limits(600, 100000)
    assert limits["batch"] == default
    assert next(v for k, v in limits.items() if k.startswith("key-")) == Limits(60, 0)  # tpm 0: no token limit


def test_only_digests_are_held(tmp_path: Path) -> None:
    ring = KeyRing.from_settings(SecretStr(ALPHA), write_keys(tmp_path / "k.json", [{"key": BETA}]))
    held = repr(vars(ring)) + repr(ring.keys())
    assert ALPHA not in held and BETA not in held


@pytest.mark.parametrize(("content", "problem"), [
    ("{not json", "not valid JSON"),
    ('{"keys": [{"name": "a"}]}', "exactly one of 'key' and 'sha256'"),
    ('{"keys": [{"key": "sk-SECRET-1", "sha256": "' + "0" * 64 + '"}]}', "exactly one of"),
    ('{"keys": [{"key": "sk SECRET"}]}', "printable and without spaces"),
    ('{"keys": [{"key": "sk-SECRET-1", "rpm": -1}]}', "keys.0.rpm"),
    ('{"keys": [{"key": "sk-SECRET-1", "colour": "red"}]}', "keys.0.colour"),
    ('{"keys": [{"name": "a", "key": "sk-SECRET-1"}, {"name": "a", "key": "sk-SECRET-2"}]}', "unique (a)"),
    ('{"keys": [{"key": "sk-SECRET-1"}, {"name": "b", "key": "sk-SECRET-1"}]}', "the same key appears twice"),
    ('{"keys": [{"name": "bad name!", "key": "sk-SECRET-1"}]}', "keys.0.name"),
    ('["sk-SECRET-1"]', "file"),
])  # fmt: skip
def test_bad_key_files_are_refused_without_echoing_keys(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(KeyFileError) as err:
        KeyRing.from_settings(None, path)
    assert problem in str(err.value) and str(path) in str(err.value)
    assert "SECRET" not in str(err.value)


def test_missing_key_file_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot be read"):
        parse_key_file(tmp_path / "absent.json")


def test_reload_on_change_and_a_bad_edit_keeps_the_keys_in_force(tmp_path: Path, caplog) -> None:
    path = write_keys(tmp_path / "keys.json", [{"name": "a", "key": ALPHA}])
    ring = KeyRing.from_settings(None, path)
    assert ring.authenticate(f"Bearer {ALPHA}").name == "a"

    write_keys(path, [{"name": "b", "key": BETA}])  # rotated: alpha revoked, beta added
    assert ring.authenticate(f"Bearer {BETA}").name == "b"
    with pytest.raises(AuthenticationError):
        ring.authenticate(f"Bearer {ALPHA}")

    with caplog.at_level(logging.ERROR, logger="inference.access.keys"):
        path.write_text('{"keys": [{"key": "' + GAMMA + '", "rpm": "lots"}]}')
        assert ring.authenticate(f"Bearer {BETA}").name == "b"  # the broken file changes nothing
    assert "not reloaded" in caplog.text and GAMMA not in caplog.text

    path.unlink()  # removed: the keys in force stay
    assert ring.authenticate(f"Bearer {BETA}").name == "b"


def test_reload_follows_a_swapped_symlink_like_a_kubernetes_secret(tmp_path: Path) -> None:
    first, second = tmp_path / "v1", tmp_path / "v2"
    first.mkdir(), second.mkdir()
    write_keys(first / "keys.json", [{"name": "a", "key": ALPHA}])
    write_keys(second / "keys.json", [{"name": "b", "key": BETA}])
    os.symlink(first, tmp_path / "..data")
    os.symlink(tmp_path / "..data" / "keys.json", tmp_path / "keys.json")
    ring = KeyRing.from_settings(None, tmp_path / "keys.json")
    assert ring.authenticate(f"Bearer {ALPHA}").name == "a"
    os.symlink(second, tmp_path / "..data_tmp")
    os.replace(tmp_path / "..data_tmp", tmp_path / "..data")  # the kubelet's atomic swap
    assert ring.authenticate(f"Bearer {BETA}").name == "b"


def test_an_emptied_key_file_refuses_everyone(tmp_path: Path) -> None:
    path = write_keys(tmp_path / "keys.json", [{"key": ALPHA}])
    ring = KeyRing.from_settings(None, path)
    write_keys(path, [])
    assert ring.enabled
    with pytest.raises(AuthenticationError):
        ring.authenticate(f"Bearer {ALPHA}")


@pytest.mark.parametrize("raw", [f"{ALPHA}\n", f"  {ALPHA}\r\n", f"\t{ALPHA} "])
def test_whitespace_around_the_env_key_is_stripped_and_logged(raw: str, monkeypatch, caplog) -> None:
    monkeypatch.setenv("EMB_API_KEY", raw)
    with caplog.at_level(logging.WARNING, logger="inference.settings_access"):
        settings = Settings()
    assert settings.api_key is not None and settings.api_key.get_secret_value() == ALPHA
    assert KeyRing.from_settings(settings.api_key, None).authenticate(f"Bearer {ALPHA}").name == "default"
    (record,) = [r for r in caplog.records if "EMB_API_KEY" in r.getMessage()]
    assert "whitespace" in record.getMessage() and ALPHA not in record.getMessage()
    assert ALPHA not in caplog.text


def test_a_clean_or_empty_env_key_is_kept_quietly(monkeypatch, caplog) -> None:
    for raw, keys_on in ((ALPHA, True), ("", False)):
        monkeypatch.setenv("EMB_API_KEY", raw)
        with caplog.at_level(logging.WARNING, logger="inference.settings_access"):
            assert Settings().keys_on is keys_on
    assert "EMB_API_KEY" not in caplog.text


def test_an_env_key_of_whitespace_only_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("EMB_API_KEY", " \n")
    with pytest.raises(ValidationError, match="EMB_API_KEY holds only whitespace"):
        Settings()
