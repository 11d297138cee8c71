"""CLIP-style model: text and images through /invocations into one projection space."""

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

from inference.api.app import create_app
from inference.handlers import load_handler, model_family
from tests.conftest import make_settings
from tests.tiny_models import build_tiny_clip


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return build_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


def png(color, size=(40, 50)) -> Image.Image:
    image = Image.new("RGB", size, color)
    image.putpixel((3, 4), (255 - color[0], 0, 255))
    return image


def b64(image: Image.Image, fmt="PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode()


def reference(folder, texts, images):
    model = CLIPModel.from_pretrained(folder).eval()
    tokenizer, processor = AutoTokenizer.from_pretrained(folder), AutoImageProcessor.from_pretrained(folder)
    with torch.no_grad():
        batch = tokenizer(texts, padding=True, return_tensors="pt")
        text = model.text_projection(model.text_model(**batch).pooler_output)
        pixels = processor(images=images, return_tensors="pt")["pixel_values"]
        image = model.visual_projection(model.vision_model(pixel_values=pixels).pooler_output)
    return text.numpy(), image.numpy()


def test_model_family_is_detected_from_config(clip_dir, tiny_xlmr_dir):
    assert model_family(clip_dir) == "clip" and model_family(tiny_xlmr_dir) == "text"


def test_mixed_text_and_image_request_lands_in_one_projection_space(clip_dir):
    app = create_app(make_settings(model_dir=clip_dir, device="cpu", log_level="WARNING"), load_in_background=False)
    images = [png((200, 10, 10)), png((10, 10, 200), size=(700, 300))]
    body = {
        "input": ["hello world", {"image": b64(images[0])}, {"text": "bonjour le monde"},
                  {"image": "data:image/jpeg;base64," + b64(images[1], "PNG")}],
        "normalized": False,
    }
    response = app.test_client().post("/invocations", json=body)
    assert response.status_code == 200, response.get_json()
    got = np.array([d["embedding"] for d in response.get_json()["data"]], dtype=np.float32)
    text_ref, image_ref = reference(clip_dir, ["hello world", "bonjour le monde"], images)
    assert got.shape == (4, 16)
    np.testing.assert_allclose(got[[0, 2]], text_ref, atol=1e-5)
    np.testing.assert_allclose(got[[1, 3]], image_ref, atol=1e-5)
    # usage: 2 + 4 text tokens, images of 1 tile (40x50) and 2x1 tiles (700x300) at 4000 tokens per tile
    assert response.get_json()["usage"]["prompt_tokens"] == (4 + 5) + 3 * 4000


def test_images_batch_like_singles(clip_dir):
    handler = load_handler(make_settings(model_dir=clip_dir, device="cpu"))
    payloads = handler.preprocess_images([png((1, 2, 3)), png((90, 80, 70))])
    batched = handler.forward_images(payloads)
    singles = np.concatenate([handler.forward_images([p]) for p in payloads])
    np.testing.assert_allclose(batched, singles, atol=1e-5)
    assert handler.info.modalities == frozenset({"text", "image"})


def test_corrupt_image_and_late_chunking_are_400(clip_dir):
    app = create_app(make_settings(model_dir=clip_dir, device="cpu", log_level="WARNING"), load_in_background=False)
    client = app.test_client()
    bad = client.post("/invocations", json={"input": ["ok", {"image": base64.b64encode(b"not an image").decode()}]})
    assert bad.status_code == 400 and "input[1]" in bad.get_json()["error"]["message"]
    late = client.post("/invocations", json={"input": ["a", "b"], "late_chunking": True})
    assert late.status_code == 400
    assert client.post("/invocations", json={"input": "hello"}).status_code == 200
