from pathlib import Path

import pytest

from inference.handlers import load_handler
from tests.conftest import make_settings
from tests.tiny_models import build_tiny_st_bert, build_tiny_xlmr


@pytest.fixture(scope="session")
def minilm_handler():
    return load_handler(make_settings(device="cpu"))


@pytest.fixture(scope="session")
def tiny_xlmr_dir(tmp_path_factory) -> Path:
    return build_tiny_xlmr(tmp_path_factory.mktemp("xlmr") / "tiny-xlmr")


@pytest.fixture(scope="session")
def tiny_st_bert_dir(tmp_path_factory) -> Path:
    return build_tiny_st_bert(tmp_path_factory.mktemp("stbert") / "tiny-st-bert", prompts={"query": "query : "})
