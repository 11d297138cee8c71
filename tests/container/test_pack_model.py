"""container/pack_model.py: model folder -> model.tar.gz as SageMaker extracts it (no Docker needed)."""

from __future__ import annotations

import importlib.util
import os
import stat
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

spec = importlib.util.spec_from_file_location("pack_model", REPO / "container" / "pack_model.py")
assert spec is not None and spec.loader is not None
pack_model = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pack_model)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    repo = tmp_path / "hub" / "models--org--my-model"  # a Hugging Face cache repository
    folder = repo / "snapshots" / "0123abc"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "1_Pooling" / "config.json").write_text("{}")
    blob = repo / "blobs" / "abc123"
    blob.parent.mkdir()
    blob.write_bytes(b"\0" * 64)
    (folder / "model.safetensors").symlink_to("../../blobs/abc123")  # Hugging Face cache snapshots are symlinks
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main")
    (folder / "tokenizer.json").write_text("{}")
    (folder / "tokenizer.json").chmod(0o600)  # a restrictive umask on the packing host
    return folder


def test_files_at_archive_root_normalised(model: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.tar.gz"
    assert pack_model.main([str(model), "-o", str(out)]) == 0
    with tarfile.open(out) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == ["1_Pooling", "1_Pooling/config.json", "config.json", "model.safetensors",
                                   "tokenizer.json"]
        safetensors = members["model.safetensors"]
        assert safetensors.isfile() and safetensors.size == 64  # the link's target, not a link
        for member in members.values():
            assert (member.uid, member.gid) == (0, 0)
            assert stat.S_IMODE(member.mode) == (0o755 if member.isdir() else 0o644)


def test_rejects_folders_that_are_not_models(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="config.json or modules.json"):
        pack_model.main([str(tmp_path / "empty"), "-o", str(tmp_path / "x.tar.gz")])


def test_requires_safetensors_unless_allowed(model: Path, tmp_path: Path) -> None:
    os.remove(model / "model.safetensors")
    (model / "pytorch_model.bin").write_bytes(b"\0")
    with pytest.raises(SystemExit, match="safetensors"):
        pack_model.main([str(model), "-o", str(tmp_path / "x.tar.gz")])
    assert pack_model.main([str(model), "-o", str(tmp_path / "x.tar.gz"), "--allow-no-safetensors"]) == 0


def test_links_inside_the_folder_are_packed(model: Path, tmp_path: Path) -> None:
    (model / "1_Pooling" / "alias.json").symlink_to("../config.json")
    out = tmp_path / "model.tar.gz"
    assert pack_model.main([str(model), "-o", str(out)]) == 0
    with tarfile.open(out) as tar:
        assert tar.getmember("1_Pooling/alias.json").isfile()


@pytest.mark.parametrize("how", ["file", "other-snapshot-blobs"])
def test_links_out_of_the_folder_are_refused(model: Path, tmp_path: Path, how: str) -> None:
    """A downloaded repository's link to a file of the packing host (credentials, keys) never reaches the archive."""
    secret = tmp_path / "home" / ".aws" / "credentials"
    secret.parent.mkdir(parents=True)
    secret.write_text("[default]\naws_secret_access_key = SECRET-KEY-1234\n")
    if how == "file":
        (model / "tokenizer_config.json").symlink_to(secret)
    else:  # a blobs folder, but of another cache repository
        other = tmp_path / "hub" / "models--someone--else" / "blobs" / "f00"
        other.parent.mkdir(parents=True)
        other.write_text("{}")
        (model / "vocab.txt").symlink_to(other)
    out = tmp_path / "model.tar.gz"
    with pytest.raises(SystemExit, match="outside the model folder"):
        pack_model.main([str(model), "-o", str(out)])
    assert not out.exists()
    assert pack_model.main([str(model), "-o", str(out), "--allow-links-outside"]) == 0  # asked for: packed


def test_a_linked_folder_out_of_the_model_is_never_packed(model: Path, tmp_path: Path) -> None:
    secret = tmp_path / "home" / ".ssh" / "id_ed25519"
    secret.parent.mkdir(parents=True)
    secret.write_text("SECRET-KEY-5678")
    (model / "extra").symlink_to(secret.parent, target_is_directory=True)
    out = tmp_path / "model.tar.gz"
    try:
        pack_model.main([str(model), "-o", str(out)])
    except SystemExit as refused:  # a Python whose rglob follows linked folders finds the file: refused
        assert "outside the model folder" in str(refused)
        return
    with tarfile.open(out) as tar:  # one that does not: the folder is not packed at all
        assert not [name for name in tar.getnames() if name.startswith("extra")]
