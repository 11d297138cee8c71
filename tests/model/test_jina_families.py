"""Jina's own model families (jina-embeddings-v3, jina-clip-v2) through the real registry and loading code.

The models are tiny self-written stand-ins with Jina's published interface (tests/model/jina_standins), saved as
remote-code folders whose ``auto_map`` names the stand-in files, so transformers imports them exactly as it imports
Jina's. Every reference vector comes from a second, independent load of the stand-in (its classes imported from the
test package, not the service's remote-code copy) and its own published entry points: ``encode(task=...)``,
``encode_text`` / ``encode_image``, ``get_text_features`` / ``get_image_features`` and the towers.
"""

import base64
import io
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoTokenizer

from inference.api.app import create_app
from inference.handlers import load_handler, model_family
from inference.handlers.jina import JINA_CLIP, JINA_V3, jina_family, matryoshka
from inference.handlers.st_config import ModelFolderError
from tests.conftest import make_settings
from tests.model.jina_standins.modeling_clip import JinaCLIPModel
from tests.model.jina_standins.modeling_lora import XLMRobertaLoRA
from tests.tiny_models import JINA_INSTRUCTIONS, JINA_TASKS, build_jina_clip_standin, build_jina_v3_standin

TEXTS = ["hello world", "the cat was on the mundo", "bonjour le monde and hola mundo"]


@pytest.fixture(scope="module")
def v3_dir(tmp_path_factory):
    return build_jina_v3_standin(tmp_path_factory.mktemp("jina") / "jina-embeddings-v3")


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return build_jina_clip_standin(tmp_path_factory.mktemp("jina") / "jina-clip-v2")


def trusted(folder, **overrides):
    return make_settings(model_dir=folder, device="cpu", trust_remote_code=True, **overrides)


def v3_reference(folder):
    return XLMRobertaLoRA.from_pretrained(folder).eval()


def clip_reference(folder):
    return JinaCLIPModel.from_pretrained(folder).eval()


def image(color, size=(40, 30)):
    picture = Image.new("RGB", size, color)
    picture.putpixel((5, 5), (0, 255 - color[1], 90))
    return picture


def b64(picture):
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def unit(vectors):
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


# -- detection and the remote-code gate -----------------------------------------------------------------------------
def test_families_are_recognised_from_the_published_config_fields(v3_dir, clip_dir, tiny_xlmr_dir):
    published_v3 = {  # jinaai/jina-embeddings-v3 config.json (model_type and auto_map as published)
        "architectures": ["XLMRobertaModel"],
        "auto_map": {"AutoConfig": "jinaai/xlm-roberta-flash-implementation--configuration_xlm_roberta."
                                   "XLMRobertaFlashConfig",
                     "AutoModel": "jinaai/xlm-roberta-flash-implementation--modeling_lora.XLMRobertaLoRA"},
        "lora_adaptations": JINA_TASKS, "model_type": "xlm-roberta",
    }
    published_clip = {  # jinaai/jina-clip-v2 config.json
        "architectures": ["JinaCLIPModel"], "model_type": "jina_clip",
        "auto_map": {"AutoConfig": "jinaai/jina-clip-implementation--configuration_clip.JinaCLIPConfig",
                     "AutoModel": "jinaai/jina-clip-implementation--modeling_clip.JinaCLIPModel"},
    }
    assert jina_family(published_v3) == JINA_V3 and jina_family(published_clip) == JINA_CLIP
    assert jina_family({**published_v3, "lora_adaptations": None}) is None  # no adapters: a plain XLM-R
    assert jina_family({"model_type": "xlm-roberta", "architectures": ["XLMRobertaModel"]}) is None
    assert jina_family({"lora_adaptations": ["a"], "auto_map": {"AutoModel": "tiny_lora.TinyLoraModel"}}) is None
    assert (model_family(v3_dir), model_family(clip_dir), model_family(tiny_xlmr_dir)) == (JINA_V3, JINA_CLIP, "text")


@pytest.mark.parametrize("name", ["v3_dir", "clip_dir"])
def test_without_trust_remote_code_the_load_stops_with_the_reason(name, request):
    folder = request.getfixturevalue(name)
    with pytest.raises(ModelFolderError, match="set EMB_TRUST_REMOTE_CODE=true") as refused:
        load_handler(make_settings(model_dir=folder, device="cpu"))
    assert ("jina-clip" if name == "clip_dir" else "jina-embeddings-v3 model") in str(refused.value)


def test_why_the_gate_is_needed_for_v3(v3_dir):
    """jina-embeddings-v3's model_type is the built-in ``xlm-roberta``: without its code transformers does not refuse,
    it builds a stock XLMRobertaModel with none of the weights. The family check is what stops that."""
    from inference.handlers.text import TextEmbeddingHandler

    stock = TextEmbeddingHandler(v3_dir, make_settings(model_dir=v3_dir, device="cpu"))
    assert type(stock._model).__module__.startswith("transformers.models.xlm_roberta")  # noqa: SLF001


# -- jina-embeddings-v3 --------------------------------------------------------------------------------------------
def test_v3_task_picks_its_adapter_and_instruction_like_jinas_encode(v3_dir):
    handler = load_handler(trusted(v3_dir))
    reference = v3_reference(v3_dir)
    tokenizer = AutoTokenizer.from_pretrained(v3_dir)
    assert handler.info.tasks == tuple(JINA_TASKS) and handler.info.dimensions == 32
    assert handler.matryoshka_dimensions == (8, 16, 32)
    vectors = {}
    for task in [None, *JINA_TASKS]:
        ids = handler.tokenize(TEXTS, task, True)
        assert ids == tokenizer([JINA_INSTRUCTIONS.get(task or "", "") + text for text in TEXTS])["input_ids"]
        vectors[task] = handler.forward(ids, task)
        expected = reference.encode(TEXTS, task=task, normalize_embeddings=False)
        np.testing.assert_allclose(vectors[task], expected, atol=1e-5)
    # every adapter changes the vectors, also for tasks whose instruction is empty
    for first, second in [(a, b) for a in vectors for b in vectors if str(a) < str(b)]:
        assert not np.allclose(vectors[first], vectors[second], atol=1e-3), (first, second)


def test_v3_adapter_mask_is_one_index_per_row(v3_dir):
    handler = load_handler(trusted(v3_dir))
    reference = v3_reference(v3_dir)
    ids = handler.tokenize(TEXTS[:1], "separation", True)
    input_ids = torch.tensor(ids)
    with torch.no_grad():
        direct = reference(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                           adapter_mask=torch.full((1,), JINA_TASKS.index("separation"), dtype=torch.int32))[0]
    np.testing.assert_allclose(handler.forward(ids, "separation"), direct.mean(1).numpy(), atol=1e-5)
    np.testing.assert_allclose(handler.forward_tokens(ids[0], "separation"), direct[0].numpy(), atol=1e-5)


def test_v3_matryoshka_dimensions_cut_and_renormalise_through_the_service(v3_dir):
    app = create_app(trusted(v3_dir, log_level="WARNING"), load_in_background=False)
    client = app.test_client()
    reference = v3_reference(v3_dir)
    for dims in (8, 16):
        response = client.post("/invocations", json={"input": TEXTS, "task": "retrieval.passage", "dimensions": dims})
        assert response.status_code == 200, response.get_json()
        got = np.array([row["embedding"] for row in response.get_json()["data"]], dtype=np.float32)
        full = reference.encode(TEXTS, task="retrieval.passage", normalize_embeddings=False)
        np.testing.assert_allclose(got, unit(full[:, :dims]), atol=1e-5)
        np.testing.assert_allclose(got, reference.encode(TEXTS, task="retrieval.passage", truncate_dim=dims), atol=1e-5)
    too_wide = client.post("/invocations", json={"input": TEXTS[:1], "dimensions": 33})
    assert too_wide.status_code == 400


def test_v3_truncate_dim_and_cls_pooler_from_config(tmp_path):
    folder = build_jina_v3_standin(tmp_path / "v3-cls", truncate_dim=16, emb_pooler="cls", sentence_transformers=False)
    handler = load_handler(trusted(folder))
    assert (handler.info.dimensions, handler.info.pooling) == (16, "cls")
    ids = handler.tokenize(TEXTS, "retrieval.query", True)
    expected = v3_reference(folder).encode(TEXTS, task="retrieval.query", normalize_embeddings=False)
    np.testing.assert_allclose(handler.forward(ids, "retrieval.query"), expected, atol=1e-5)
    assert handler.forward_tokens(ids[0], "retrieval.query").shape == (len(ids[0]), 16)


def test_matryoshka_config_is_checked():
    assert matryoshka({"matryoshka_dimensions": [8, 16], "truncate_dim": None}, 32) == ((8, 16), 32)
    assert matryoshka({"matryoshka_dimensions": [8, 16], "truncate_dim": 16}, 32) == ((8, 16), 16)
    with pytest.raises(ModelFolderError, match="truncate_dim=12"):
        matryoshka({"matryoshka_dimensions": [8, 16], "truncate_dim": 12}, 32)
    with pytest.raises(ModelFolderError, match="truncate_dim=64"):
        matryoshka({"truncate_dim": 64}, 32)


# -- jina-clip-v2 --------------------------------------------------------------------------------------------------
def test_clip_texts_and_images_come_from_their_towers(clip_dir):
    handler = load_handler(trusted(clip_dir))
    reference = clip_reference(clip_dir)
    info = handler.info
    assert info.modalities == frozenset({"text", "image"}) and not info.late_chunking
    assert (info.dimensions, set(info.tasks)) == (16, set(JINA_TASKS))
    for task in [None, "retrieval.query", "retrieval.passage", "text-matching"]:
        ids = handler.tokenize(TEXTS, task, True)
        got = handler.forward(ids, task)
        np.testing.assert_allclose(got, reference.encode_text(TEXTS, task=task, normalize_embeddings=False), atol=1e-5)
        with torch.no_grad():  # the text tower itself, default adapter, mask from the pad token
            tower = reference.text_model(x=torch.nn.utils.rnn.pad_sequence(
                [torch.tensor(row) for row in ids], batch_first=True, padding_value=1))
        np.testing.assert_allclose(got, tower.numpy(), atol=1e-5)
    pictures = [image((200, 10, 10)), image((10, 10, 200), size=(90, 40))]
    pixels = handler.preprocess_images(pictures)
    got = handler.forward_images(pixels)
    np.testing.assert_allclose(got, reference.encode_image(pictures, normalize_embeddings=False), atol=1e-5)
    with torch.no_grad():
        np.testing.assert_allclose(got, reference.vision_model(x=torch.stack(pixels)).numpy(), atol=1e-5)
        np.testing.assert_allclose(got, reference.get_image_features(pixel_values=torch.stack(pixels)), atol=1e-5)


def test_clip_instruction_is_the_only_task_effect(clip_dir):
    """As in Jina's encode_text: the task prepends its instruction; the tower keeps its default_lora_task adapter."""
    handler = load_handler(trusted(clip_dir))
    plain = handler.tokenize(["hello world"], None, True)
    matching = handler.tokenize(["hello world"], "text-matching", True)  # empty instruction
    query = handler.tokenize(["hello world"], "retrieval.query", True)
    assert plain == matching and query == handler.tokenize([JINA_INSTRUCTIONS["retrieval.query"] + "hello world"],
                                                          None, True)
    np.testing.assert_allclose(handler.forward(matching, "text-matching"), handler.forward(plain, None), atol=1e-6)


def test_clip_mixed_request_with_dimensions(clip_dir):
    app = create_app(trusted(clip_dir, log_level="WARNING"), load_in_background=False)
    picture = image((30, 160, 90))
    body = {"input": [TEXTS[0], {"image": b64(picture)}], "task": "retrieval.query", "dimensions": 8}
    response = app.test_client().post("/invocations", json=body)
    assert response.status_code == 200, response.get_json()
    got = np.array([row["embedding"] for row in response.get_json()["data"]], dtype=np.float32)
    reference = clip_reference(clip_dir)
    text = reference.encode_text(TEXTS[:1], task="retrieval.query", normalize_embeddings=False)
    picture_vector = reference.encode_image([picture], normalize_embeddings=False)
    np.testing.assert_allclose(got, unit(np.concatenate([text, picture_vector])[:, :8]), atol=1e-5)
    np.testing.assert_allclose(got[1:], reference.encode_image([picture], truncate_dim=8), atol=1e-5)


def test_clip_projections_and_truncate_dim_from_config(tmp_path):
    folder = build_jina_clip_standin(tmp_path / "clip-proj-8", truncate_dim=8, add_projections=True)
    handler = load_handler(trusted(folder))
    reference = clip_reference(folder)
    assert handler.info.dimensions == 8 and handler.matryoshka_dimensions == (4, 8, 12, 16)
    ids = handler.tokenize(TEXTS, None, True)
    np.testing.assert_allclose(handler.forward(ids, None), reference.encode_text(TEXTS, normalize_embeddings=False),
                               atol=1e-5)
    pictures = [image((1, 2, 3))]
    np.testing.assert_allclose(handler.forward_images(handler.preprocess_images(pictures)),
                               reference.encode_image(pictures, normalize_embeddings=False), atol=1e-5)


def test_clip_refuses_a_tokenizer_that_pads_with_another_id(clip_dir, tmp_path):
    folder = tmp_path / "clip-pad-0"
    shutil.copytree(clip_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config["text_config"]["hf_model_config_kwargs"]["pad_token_id"] = 0
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFolderError, match="pads with id 1 but the text tower masks id 0"):
        load_handler(trusted(folder))
