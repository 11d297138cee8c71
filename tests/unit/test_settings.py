from pathlib import Path

import pytest
from pydantic import ValidationError

from inference import model_dir as model_dir_module
from inference.model_dir import embedded_model_dir, find_model_folder, resolve_model_dir
from inference.settings import Settings


def model_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    return path


@pytest.fixture(autouse=True)
def no_sagemaker_dir(monkeypatch, tmp_path):
    monkeypatch.setattr(model_dir_module, "SAGEMAKER_MODEL_DIR", tmp_path / "opt-ml-model")
    for name in ("MODEL_DIR", "AZUREML_MODEL_DIR", "SAGEMAKER_BIND_TO_PORT", "EMB_PORT", "PORT"):
        monkeypatch.delenv(name, raising=False)


def test_env_names_and_aliases(monkeypatch):
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "9001")
    monkeypatch.setenv("SAGEMAKER_MAX_PAYLOAD_IN_MB", "2")
    monkeypatch.setenv("EMB_MAX_INPUTS", "10")
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_WORKERS", "3")
    s = Settings()
    assert (s.port, s.max_body_bytes, s.max_inputs, s.workers) == (9001, 2 * 1024 * 1024, 10, 3)


def test_model_dir_wins_over_everything(monkeypatch, tmp_path):
    explicit = model_folder(tmp_path / "explicit")
    monkeypatch.setenv("MODEL_DIR", str(explicit))
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path))
    assert resolve_model_dir(Settings()) == explicit


def test_azureml_subfolders_are_searched(monkeypatch, tmp_path):
    nested = model_folder(tmp_path / "azure" / "my-model" / "1" / "weights")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path / "azure"))
    assert resolve_model_dir(Settings()) == nested


@pytest.mark.parametrize("layout", ["missing", "empty", "empty-subfolders"])
def test_an_empty_azureml_model_dir_falls_back_to_the_baked_or_embedded_model(monkeypatch, tmp_path, layout):
    azure = tmp_path / "azureml-models"
    if layout != "missing":
        (azure / "nothing" / "here").mkdir(parents=True) if layout == "empty-subfolders" else azure.mkdir()
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(azure))
    assert resolve_model_dir(Settings()) == embedded_model_dir()
    baked = model_folder(tmp_path / "opt-ml-model")
    assert resolve_model_dir(Settings()) == baked


def test_an_azureml_model_dir_with_files_but_no_model_fails(monkeypatch, tmp_path):
    (tmp_path / "azure" / "m").mkdir(parents=True)
    (tmp_path / "azure" / "m" / "weights.bin").write_bytes(b"x")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path / "azure"))
    with pytest.raises(FileNotFoundError, match="AZUREML_MODEL_DIR"):
        resolve_model_dir(Settings())


def test_opt_ml_model_then_embedded_default(monkeypatch, tmp_path):
    assert resolve_model_dir(Settings()) == embedded_model_dir()
    sagemaker = model_folder(tmp_path / "opt-ml-model")
    assert resolve_model_dir(Settings()) == sagemaker


def test_configured_folder_without_model_fails_instead_of_falling_back(monkeypatch, tmp_path):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="MODEL_DIR"):
        resolve_model_dir(Settings())


def test_find_model_folder_prefers_the_shallowest(tmp_path):
    model_folder(tmp_path / "b" / "deep" / "er")
    shallow = model_folder(tmp_path / "a" / "m")
    assert find_model_folder(tmp_path) == shallow


def test_command_line_overrides_are_validated_like_the_environment(monkeypatch):
    from inference.runtime.cli import parse_args, settings_from

    monkeypatch.setenv("EMB_WORKERS", "3")
    assert settings_from(parse_args(["serve", "--port", "9000"])).workers == 3  # the environment still applies
    assert settings_from(parse_args(["--workers", "2"])).workers == 2
    with pytest.raises(SystemExit, match="workers"):
        settings_from(parse_args(["--workers", "0"]))  # EMB_WORKERS=0 is refused too (ge=1)


def test_overrides_are_validated_and_keep_the_other_values():
    base = Settings(max_inputs=7)
    assert base.with_overrides(port=9001).max_inputs == 7
    with pytest.raises(ValidationError):
        base.with_overrides(device="cpu", dtype="float8")
    with pytest.raises(ValueError, match="unknown settings: nope"):
        base.with_overrides(nope=1)
