"""container/pack_model.py: model folder -> model.tar.gz as SageMaker extracts it (no Docker needed)."""

from __future__ import annotations

import importlib.util
import json
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


@pytest.fixture(autouse=True)
def _no_onnx_export(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Packing exports each embedding model's ONNX package when the project is importable (it is here): a few
    seconds of torch per model, which only the tests about it need."""
    if "onnx" not in request.node.name:
        monkeypatch.setattr(pack_model, "_onnx_tools", lambda: None)


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


# --- the kind: the server's rule (inference.handlers.model_family), stdlib only ----------------------------------
FAMILY_KINDS = {"text": "embedding", "clip": "embedding", "rerank": "rerank", "multivector": "multivector",
                "classify": "classify", "sparse": "sparse", "llm-rerank": "rerank"}  # fmt: skip


def _write(folder: Path, files: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in files.items():
        (folder / name).write_text(value if isinstance(value, str) else json.dumps(value))
    (folder / "model.safetensors").write_bytes(b"\0" * 8)
    return folder


SEQ = {"architectures": ["BertForSequenceClassification"]}
PYLATE = [{"idx": 0, "path": "", "type": "sentence_transformers.models.Transformer"},
          {"idx": 1, "path": "1_Dense", "type": "pylate.models.Dense.Dense"}]  # fmt: skip
NATIVE = [{"idx": 0, "path": "", "type": "sentence_transformers.base.modules.Transformer"},
          {"idx": 2, "path": "2_MultiVectorMask", "type": "sentence_transformers.multi_vector_encoder.modules."
           "MultiVectorMask"}]  # fmt: skip
PLAIN = [{"idx": 0, "path": "", "type": "sentence_transformers.models.Transformer"}]
FOLDERS: dict[str, tuple[dict[str, object], str]] = {
    "embedding": ({"config.json": {"model_type": "bert"}, "modules.json": PLAIN}, "embedding"),
    "reranker-one-label": ({"config.json": {**SEQ, "id2label": {"0": "LABEL_0"}}}, "rerank"),
    "reranker-no-labels": ({"config.json": SEQ}, "rerank"),
    "reranker-num-labels-1": ({"config.json": {**SEQ, "num_labels": 1}}, "rerank"),
    "classifier-id2label": ({"config.json": {**SEQ, "id2label": {"0": "neg", "1": "pos"}}}, "classify"),
    "classifier-num-labels": ({"config.json": {**SEQ, "num_labels": 3}}, "classify"),
    "pylate": ({"config.json": {"architectures": ["BertModel"]}, "modules.json": PYLATE}, "multivector"),
    "native-multivector": ({"config.json": {"architectures": ["BertModel"]}, "modules.json": NATIVE}, "multivector"),
    "model-type-colbert": ({"config.json": {"architectures": ["BertModel"]}, "modules.json": PLAIN,
                            "config_sentence_transformers.json": {"model_type": "ColBERT"}}, "multivector"),
    "colbert-over-a-classifier": ({"config.json": {**SEQ, "num_labels": 3}, "modules.json": PYLATE}, "multivector"),
    "unreadable-st-config": ({"config.json": {"architectures": ["BertModel"]}, "modules.json": PYLATE,
                              "config_sentence_transformers.json": "{not json"}, "embedding"),
    "unreadable-modules": ({"config.json": SEQ, "modules.json": "[{"}, "rerank"),
}


@pytest.mark.parametrize("name", sorted(FOLDERS))
def test_model_kind_is_the_servers(name: str, tmp_path: Path) -> None:
    files, kind = FOLDERS[name]
    folder = _write(tmp_path / name, files)
    assert pack_model.model_kind(folder) == kind
    from inference.handlers import model_family

    assert FAMILY_KINDS[model_family(folder)] == kind


@pytest.mark.parametrize(("name", "usage"), [
    ("embedding", "embedding model: POST /invocations or /v1/embeddings"),
    ("reranker-one-label", "rerank model: POST /invocations or /v1/rerank"),
    ("pylate", "multivector model: POST /invocations or /v1/multi-vector"),
    ("classifier-id2label", "classify model (2 labels: neg, pos): POST /invocations or /v1/classify"),
    ("classifier-num-labels", "classify model (3 labels): POST /invocations or /v1/classify"),
])  # fmt: skip
def test_each_kind_is_packed_and_the_usage_printed(name: str, usage: str, tmp_path: Path, capsys) -> None:
    files, kind = FOLDERS[name]
    folder = _write(tmp_path / name, files)
    out = tmp_path / "model.tar.gz"
    assert pack_model.main([str(folder), "-o", str(out), "--kind", kind]) == 0
    assert usage in capsys.readouterr().err
    with tarfile.open(out) as tar:
        assert "config.json" in tar.getnames()


def test_a_several_label_classifier_is_packed_as_a_classifier_not_refused(tmp_path: Path) -> None:
    folder = _write(tmp_path / "classifier", FOLDERS["classifier-id2label"][0])
    assert pack_model.main([str(folder), "-o", str(tmp_path / "x.tar.gz")]) == 0
    with pytest.raises(SystemExit, match=r"a classify model, not rerank \(.*2 labels\)"):
        pack_model.main([str(folder), "-o", str(tmp_path / "x.tar.gz"), "--kind", "rerank"])
    colbert = _write(tmp_path / "colbert", FOLDERS["pylate"][0])
    with pytest.raises(SystemExit, match="a multivector model, not embedding .*late-interaction"):
        pack_model.main([str(colbert), "-o", str(tmp_path / "x.tar.gz"), "--kind", "embedding"])


def test_the_labels_shown_are_capped(tmp_path: Path) -> None:
    labels = {str(i): f"l{i}" for i in range(12)}
    folder = _write(tmp_path / "many", {"config.json": {**SEQ, "id2label": labels}})
    shown = pack_model.describe(folder, "classify")
    assert shown.startswith("classify model (12 labels: l0, l1,") and shown.endswith("l7, ...)")


def test_the_kind_choices_are_every_kind() -> None:
    assert set(pack_model.KINDS) == set(pack_model.USAGE) == set(FAMILY_KINDS.values())


@pytest.mark.parametrize("build", ["pylate_colbert", "native_colbert", "single_label_classifier",
                                   "multi_label_classifier", "tiny_bert_reranker", "tiny_splade",
                                   "tiny_qwen3_reranker", "tiny_gemma_reranker"])  # fmt: skip
def test_the_tiny_models_are_packed_as_the_server_serves_them(build: str, tmp_path: Path, capsys) -> None:
    """Folders saved by the libraries (transformers, Sentence Transformers 6) and PyLate's layout."""
    from inference.handlers import model_family

    if build == "native_colbert":
        pytest.importorskip("sentence_transformers", minversion="6")
        from tests.tiny_colbert import build_native_colbert as builder
    elif build == "pylate_colbert":
        from tests.tiny_colbert import build_pylate_colbert as builder
    elif build == "tiny_bert_reranker":
        from tests.tiny_rerankers import build_tiny_bert_reranker as builder
    elif build == "tiny_splade":
        from tests.tiny_sparse import build_tiny_splade as builder
    elif build == "tiny_qwen3_reranker":
        from tests.tiny_llm_rerankers import build_tiny_qwen3_reranker as builder
    elif build == "tiny_gemma_reranker":
        from tests.tiny_flag_rerankers import build_tiny_gemma_reranker as builder
    else:
        import tests.tiny_classifiers as classifiers

        builder = getattr(classifiers, f"build_{build}")
    folder = builder(tmp_path / "model")
    kind = pack_model.model_kind(folder)
    assert kind == FAMILY_KINDS[model_family(folder)] == {"pylate_colbert": "multivector", "native_colbert":
        "multivector", "tiny_bert_reranker": "rerank", "tiny_splade": "sparse",
        "tiny_qwen3_reranker": "rerank", "tiny_gemma_reranker": "rerank"}.get(build, "classify")  # fmt: skip
    assert pack_model.main([str(folder), "-o", str(tmp_path / "model.tar.gz"), "--kind", kind]) == 0
    assert f"{kind} model" in capsys.readouterr().err


# --- a model set: several model folders, or a models.json manifest, in one archive --------------------------------
def _set(root: Path, manifest: object | None = None) -> Path:
    _write(root / "embedder", FOLDERS["embedding"][0])
    _write(root / "reranker", FOLDERS["reranker-one-label"][0])
    (root / "README.md").write_text("not a model: left out")
    if manifest is not None:
        (root / "models.json").write_text(json.dumps(manifest))
    return root


def test_a_set_of_folders_is_packed_each_model_under_its_folder(tmp_path: Path, capsys) -> None:
    root = _set(tmp_path / "set")
    out = tmp_path / "model.tar.gz"
    assert pack_model.main([str(root), "-o", str(out)]) == 0
    report = capsys.readouterr().err
    assert "a set of 2 models" in report and "  embedder (embedder/, 3 files" in report
    assert "reranker (reranker/, 2 files" in report and "rerank model: POST /invocations or /v1/rerank" in report
    with tarfile.open(out) as tar:
        names = tar.getnames()
        assert all((m.uid, m.gid, stat.S_IMODE(m.mode)) in ((0, 0, 0o644), (0, 0, 0o755)) for m in tar.getmembers())
    assert "embedder/model.safetensors" in names and "reranker/config.json" in names and "README.md" not in names
    assert [(m.name, m.kind) for m in pack_model.read_archive(out)] == [("embedder", "embedding"),
                                                                        ("reranker", "rerank")]  # fmt: skip
    assert pack_model.main([str(out)]) == 0  # an archive is read, not packed
    packed_report = report[report.index(str(out)):]  # after the packing's own notes (the ONNX package)
    assert capsys.readouterr().err.replace(str(out), "X") == packed_report.replace(str(out), "X")


def test_a_manifest_set_keeps_its_names_handlers_and_manifest(tmp_path: Path) -> None:
    manifest = {"models": [{"name": "rr", "path": "reranker"}, {"name": "emb", "path": "embedder", "handler": "text"},
                           {"name": "rr-as-classifier", "path": "reranker", "handler": "classify"}]}  # fmt: skip
    root = _set(tmp_path / "set", manifest)
    packed = pack_model.pack_root(root, tmp_path / "model.tar.gz")
    assert [(m.name, m.path, m.kind, m.files) for m in packed] == [
        ("rr", "reranker", "rerank", 2), ("emb", "embedder", "embedding", 3),
        ("rr-as-classifier", "reranker", "classify", 2)]  # fmt: skip
    with tarfile.open(tmp_path / "model.tar.gz") as tar:
        assert json.load(tar.extractfile("models.json")) == manifest  # type: ignore[arg-type]
    assert pack_model.read_archive(tmp_path / "model.tar.gz") == packed


@pytest.mark.parametrize(("manifest", "message"), [
    ({"models": []}, "not a valid model manifest"),
    ({"models": [{"name": "a", "path": "../x"}]}, "'a' path '../x' is not a model folder"),
    ({"models": [{"name": "a", "path": "embedder"}, {"name": "a", "path": "reranker"}]}, "names must be unique"),
    ({"models": [{"name": "a", "path": "embedder", "handler": "nope"}]}, "not a valid model manifest"),
])  # fmt: skip
def test_a_manifest_the_server_would_refuse_is_refused(manifest: object, message: str, tmp_path: Path) -> None:
    root = _set(tmp_path / "set", manifest)
    with pytest.raises(SystemExit, match=message):
        pack_model.main([str(root), "-o", str(tmp_path / "model.tar.gz")])
    assert not (tmp_path / "model.tar.gz").exists()


def test_each_model_of_a_set_is_checked_as_one_model(tmp_path: Path) -> None:
    root = _set(tmp_path / "set")
    os.remove(root / "reranker" / "model.safetensors")
    with pytest.raises(SystemExit, match=r"reranker: no \*.safetensors"):
        pack_model.main([str(root), "-o", str(tmp_path / "x.tar.gz")])
    _write(root / "reranker", FOLDERS["reranker-one-label"][0])
    with pytest.raises(SystemExit, match="model 'reranker' is a rerank model, not embedding"):
        pack_model.main([str(root), "-o", str(tmp_path / "x.tar.gz"), "--kind", "embedding"])
    (root / "embedder" / "vocab.txt").symlink_to(tmp_path / "secret")
    (tmp_path / "secret").write_text("SECRET")
    with pytest.raises(SystemExit, match="outside the model folder"):
        pack_model.main([str(root), "-o", str(tmp_path / "x.tar.gz")])
    with pytest.raises(SystemExit, match="must not be inside"):
        pack_model.main([str(root), "-o", str(root / "reranker" / "x.tar.gz"), "--allow-links-outside"])


def test_one_model_subfolder_is_not_a_set(tmp_path: Path) -> None:
    _write(tmp_path / "root" / "only", FOLDERS["embedding"][0])
    with pytest.raises(SystemExit, match=r"one model folder under it \(only\): pack that folder, or write a models"):
        pack_model.main([str(tmp_path / "root"), "-o", str(tmp_path / "x.tar.gz")])


def test_onnx_package_is_packed_and_served_without_torch(tmp_path: Path) -> None:
    from inference.handlers import load_handler
    from inference.handlers.onnx_text import OnnxTextEmbeddingHandler
    from inference.model_dir import embedded_model_dir
    from tests.conftest import make_settings

    out = tmp_path / "model.tar.gz"
    assert pack_model.main([str(embedded_model_dir()), "-o", str(out), "--onnx", "yes"]) == 0
    with tarfile.open(out) as tar:
        names = tar.getnames()
        tar.extractall(tmp_path / "extracted", filter="data")
    assert {"embed-serving-onnx/model.onnx", "embed-serving-onnx/embed-serving.json"} <= set(names)
    assert not (embedded_model_dir() / "embed-serving-onnx").exists()  # the source folder is left as it was
    settings = make_settings(model_dir=tmp_path / "extracted", device="cpu", onnx_cache_dir=tmp_path / "no-cache")
    handler = load_handler(settings)
    assert isinstance(handler, OnnxTextEmbeddingHandler)
    # packed again from the extracted folder: its package is up to date and packed once, not exported again
    again = tmp_path / "again.tar.gz"
    assert pack_model.main([str(tmp_path / "extracted"), "-o", str(again), "--onnx", "yes"]) == 0
    with tarfile.open(again) as tar:
        assert sorted(tar.getnames()) == sorted(names)
