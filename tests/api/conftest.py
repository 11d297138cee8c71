import threading

import pytest

from inference.api.app import create_app
from inference.handlers.fake import FakeEmbeddingHandler
from tests.conftest import make_settings


@pytest.fixture
def app():
    settings = make_settings(handler="fake", max_body_mb=0.01, max_inputs=5, log_level="WARNING")
    return create_app(settings, load_in_background=False)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def gated_app():
    """An app whose model load blocks until the test opens the gate."""
    gate = threading.Event()

    def loader(settings):
        gate.wait(10)
        return FakeEmbeddingHandler(settings)

    app = create_app(make_settings(handler="fake", log_level="WARNING"), loader)
    return app, gate
