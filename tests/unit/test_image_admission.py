"""A request's images through the embeddings service and app (fake two-modality model, in process): admitted
by their pixels from the header before anything is decoded (413 / 503 like a long text request), a clear 400
for the pixel cap and too many URLs, and decoding that stops between images once the client left."""

from __future__ import annotations

import base64
import io
import threading

import numpy as np
import pytest
from PIL import Image

from inference.api.app import ENGINE, create_app
from inference.core.types import ImageInput, ModelInfo, TextInput
from inference.endpoints.embeddings.image_inputs import IMAGE_BATCH_COST, PIXELS_PER_TOKEN
from inference.endpoints.embeddings.types import EmbedRequest
from inference.errors import ClientClosedRequestError, InvalidInputError
from inference.handlers.fake import FakeEmbeddingHandler
from tests.conftest import loaded_service, make_settings


def png(size: tuple[int, int], mode: str = "1") -> str:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


BIG = png((2000, 2000))  # 4 Mpx in a few hundred bytes: 256 + 977 tokens in admission
BIG_COST = IMAGE_BATCH_COST + -(-2000 * 2000 // PIXELS_PER_TOKEN)


class ImageFake(FakeEmbeddingHandler):
    """A fake text + image model that counts the images it preprocesses; ``after_image`` runs after each."""

    def __init__(self, settings):
        super().__init__(settings)
        self._info = ModelInfo(name="fake-clip", dimensions=8, max_length=64, modalities=frozenset({"text", "image"}))
        self.preprocessed = 0
        self.after_image = lambda: None

    def preprocess_images(self, images):
        self.preprocessed += len(images)
        self.after_image()
        return [np.full(8, float(image.size[0]), np.float32) for image in images]

    def forward_images(self, batch):
        return np.stack(batch)


def settings(**overrides):
    base = {"handler": "fake", "log_level": "WARNING", "request_deadline_s": 10.0}
    return make_settings(**{**base, **overrides})


@pytest.fixture
def app_and_model():
    models: list[ImageFake] = []

    def loader(s):
        models.append(ImageFake(s))
        return models[0]

    app = create_app(settings(), loader, load_in_background=False)
    budget = app.extensions[ENGINE].budget
    budget.calibrate(1000, 1.0)  # 1,000 tokens/s: a request alone may cost 10,000 tokens (10 s deadline)
    models[0].preprocessed = 0
    return app, models[0], budget


def test_many_large_images_are_413_before_any_is_decoded(app_and_model):
    app, model, budget = app_and_model
    client = app.test_client()
    response = client.post("/invocations", json={"input": [{"image": BIG}] * 10})  # 10 x 1,233 tokens
    assert response.status_code == 413, response.get_json()
    assert response.get_json()["error"]["type"] == "request_too_large"
    assert f"({10 * BIG_COST} tokens" in response.get_json()["error"]["message"]
    assert model.preprocessed == 0
    assert budget.snapshot().queued_tokens == 0
    ok = client.post("/invocations", json={"input": [{"image": BIG}] * 4})  # 4,932 tokens fit
    assert ok.status_code == 200 and model.preprocessed == 4
    assert ok.get_json()["usage"]["prompt_tokens"] == 4 * 16 * 4000  # usage: 4 x 4 tiles of the declared size


def test_large_images_behind_queued_work_are_503_with_retry_after(app_and_model):
    app, model, budget = app_and_model
    budget.admit(5000, 1, None)  # another request's work: 5 s at 1,000 tokens/s
    try:
        response = app.test_client().post("/invocations", json={"input": [{"image": BIG}] * 4})
    finally:
        budget.release(5000, 1)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "would miss its deadline" in response.get_json()["error"]["message"]
    assert model.preprocessed == 0
    small = app.test_client().post("/invocations", json={"input": [{"image": png((64, 64), "RGB")}] * 4})
    assert small.status_code == 200  # small images still cost an image's model pass only (+1 token each)


def test_an_image_over_the_default_pixel_cap_is_a_400_naming_it(app_and_model):
    app, model, _ = app_and_model
    body = {"input": [{"text": "a cat"}, {"image": png((6000, 5000))}]}  # 30 Mpx, a few KB
    response = app.test_client().post("/invocations", json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "input[1]"
    assert error["message"] == "input[1]: image is 6000x5000, more than 25000000 pixels; send it downscaled"
    assert model.preprocessed == 0


def test_more_image_urls_than_allowed_is_a_400_before_any_lookup():
    service = loaded_service(settings(allow_image_urls=True, max_image_urls=2, warmup=False), ImageFake)
    urls = [ImageInput(f"http://images.invalid/{i}.png") for i in range(3)]
    with pytest.raises(InvalidInputError, match="3 image URLs, more than the 2 allowed"):
        service.embed(EmbedRequest(inputs=(TextInput("a cat"), *urls)))


def test_decoding_stops_between_images_once_the_client_left():
    model: list[ImageFake] = []

    def loader(s):
        model.append(ImageFake(s))
        return model[0]

    service = loaded_service(settings(warmup=False), loader)
    gone = threading.Event()
    model[0].after_image = gone.set  # the client hangs up while the first image is preprocessed
    request = EmbedRequest(inputs=tuple(ImageInput(png((1500, 1500))) for _ in range(5)))
    with pytest.raises(ClientClosedRequestError) as caught:
        service.embed(request, cancelled=gone)
    assert caught.value.status == 499
    assert model[0].preprocessed == 1  # the other four were never decoded
