"""Decompression bombs against a real server (gunicorn, one worker, a tiny CLIP on CPU, 8 request threads).

A 150 KB PNG declares 5000 x 5000 RGBA pixels (at the default 25 Mpx cap): 100 MB once decoded, and as many
again for its full-size RGB conversion. Without a bound, each request thread decodes its own (8 threads: 1.6 GB;
glibc then keeps the freed blocks in each thread's arena). Now a worker's decodes hold at most
``EMB_IMAGE_DECODE_PIXELS`` (50 Mpx of 4 bytes: one such image, counted with its conversion) at a time, and the
heap is trimmed before the next one starts. The worker's peak RSS (``VmHWM``) is read from /proc before and after
a burst of them.
"""

from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from tests.reliability.harness import Server, clean_env, peak_rss_mib, post_json
from tests.tiny_models import build_tiny_clip

CLIENTS = 8
BOMBS_PER_REQUEST = 2
# One 200 MB decode at a time, plus reduced copies, request bodies and allocator slack. Measured on a 2-core dev
# machine: +230-250 MiB; the code before the gate: +2.4 GiB.
PEAK_GROWTH_LIMIT_MIB = 400


def b64_png(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture(scope="module")
def clip_server(tmp_path_factory):
    folder = build_tiny_clip(tmp_path_factory.mktemp("bombs") / "tiny-clip")
    with Server(clean_env(MODEL_DIR=str(folder), EMB_THREADS=str(CLIENTS))) as server:
        server.wait_ready()
        yield server


def test_concurrent_png_bombs_keep_the_workers_memory_bounded_and_it_keeps_serving(clip_server):
    port = clip_server.port
    [worker] = clip_server.workers()
    bomb = b64_png(Image.new("RGBA", (5000, 5000), (10, 200, 30, 255)))
    assert len(bomb) < 200_000
    assert post_json(port, {"input": ["a cat"]}).status == 200
    before = peak_rss_mib(worker)
    body = {"input": [{"image": bomb}] * BOMBS_PER_REQUEST}
    with ThreadPoolExecutor(CLIENTS) as pool:
        replies = list(pool.map(lambda _: post_json(port, body, timeout=120), range(CLIENTS)))
    growth = peak_rss_mib(worker) - before
    print(f"worker peak RSS {before:.0f} MiB before, +{growth:.0f} MiB after {CLIENTS} x {BOMBS_PER_REQUEST} bombs")
    assert [reply.status for reply in replies] == [200] * CLIENTS, [r.body[:200] for r in replies]
    assert all(len(reply.json()["data"]) == BOMBS_PER_REQUEST for reply in replies)
    assert growth < PEAK_GROWTH_LIMIT_MIB
    assert clip_server.workers() == [worker] and clip_server.ping() == 200
    small = {"input": [{"text": "a cat"}, {"image": b64_png(Image.new("RGB", (64, 48), (1, 2, 3)))}]}
    assert post_json(port, small).status == 200


def test_an_image_over_the_pixel_cap_is_a_400_json_saying_so(clip_server):
    over = b64_png(Image.new("1", (6000, 5000)))  # 30 Mpx in a few KB
    reply = post_json(clip_server.port, {"input": [{"image": over}]})
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "input[0]"
    assert "image is 6000x5000, more than 25000000 pixels" in error["message"]
    assert clip_server.ping() == 200
