"""Generate (or check) the listing's sample outputs with the real model through the real server code.

    python -m marketplace.generate_samples                  # in-process app, embedded model, CPU
    python -m marketplace.generate_samples --url URL        # a running server or container
    python -m marketplace.generate_samples --check          # regenerate and compare with data/output/
    python -m marketplace.generate_samples --model-dir RERANKER          # a reranker: data-rerank/ (in-process)
    python -m marketplace.generate_samples --data marketplace/data-rerank --url URL   # a reranker container
    python -m marketplace.generate_samples --model-dir COLBERT           # a multi-vector model: data-multivector/
    python -m marketplace.generate_samples --model-dir CLASSIFIER        # a classifier: data-classify/
    python -m marketplace.generate_samples --model-dir SPLADE            # a sparse model: data-sparse/

``data/input/real-time/*.json`` are POSTed to ``/invocations`` (``application/json``); each answer is stored
byte for byte in ``data/output/real-time/``. ``data/input/batch/*.jsonl|csv`` go through the Batch Transform
data plane (``marketplace.local_transform``: ``SplitType=Line``, ``MultiRecord``, ``AssembleWith=Line``);
outputs are ``data/output/batch/<file>.out``, as a transform job names them. ``--check`` compares numbers
with a tolerance (other machines and accelerators round differently) and everything else exactly.

The other kinds' samples live beside ``data/``, in the same layout: ``data-rerank/`` (``{"query", "documents"}``
bodies in real-time, JSON Lines records of such bodies in batch; no CSV), ``data-multivector/`` (multi-vector
bodies ``{"input", "input_type"}`` and a MaxSim rerank body in real-time; texts in batch, JSON Lines and CSV, as an
embedding model's), ``data-classify/`` (``{"input"}`` and TEI's ``{"inputs"}`` bodies in real-time, JSON Lines
records of such bodies in batch; no CSV) and ``data-sparse/`` (TEI's ``/embed_sparse`` bodies ``{"inputs"}`` in
real-time, answered ``[[{"index", "value"}, ...], ...]``; texts in batch, JSON Lines and CSV). ``--model-dir``
picks the folder of the model's kind unless ``--data`` names one. Their outputs come from the model the listing
sells, so none are committed with the repository: generate them with that model before the listing goes out.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import struct
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from inference.mime import CSV, JSON, JSONLINES

from .local_transform import MB, execution_parameters, http_invoker, transform

DATA = Path(__file__).resolve().parent / "data"
DATA_BY_KIND = {"embedding": DATA, "rerank": DATA.with_name("data-rerank"),
                "multivector": DATA.with_name("data-multivector"), "classify": DATA.with_name("data-classify"),
                "sparse": DATA.with_name("data-sparse")}  # fmt: skip
BATCH_TYPES = {".jsonl": JSONLINES, ".csv": CSV}
ABS_TOL = 2e-4  # float32 embeddings from another BLAS/accelerator agree to ~1e-6; bf16/fp16 GPUs to ~1e-3

Post = Callable[[bytes, str, str], bytes]  # (body, content type, accept) -> response body


def http_post(url: str) -> tuple[Post, tuple[str, int]]:
    """POST to a running server; its advertised batch strategy and payload limit."""
    url = url.rstrip("/")

    def post(body: bytes, content_type: str, accept: str) -> bytes:
        return http_invoker(url, content_type, accept)(body)

    return post, execution_parameters(url)


def in_process_post(model_dir: Path | None = None) -> tuple[Post, tuple[str, int]]:
    """The Flask app on CPU (float32), as the container serves it: the embedded model, or ``model_dir`` (an
    model of any kind)."""
    from inference.api.app import create_app
    from inference.settings import Settings

    update: dict[str, Any] = {"device": "cpu", "dtype": "float32", "log_level": "WARNING"}
    if model_dir is not None:
        update["model_dir"] = model_dir
    settings = Settings().model_copy(update=update)
    app = create_app(settings, load_in_background=False)
    client = app.test_client()

    def post(body: bytes, content_type: str, accept: str) -> bytes:
        response = client.post("/invocations", data=body, headers={"Content-Type": content_type, "Accept": accept})
        if response.status_code != 200:
            raise RuntimeError(f"/invocations answered {response.status_code}: {response.get_data(as_text=True)}")
        return response.get_data()

    params = client.get("/execution-parameters").get_json()
    return post, ("MultiRecord", int(params["MaxPayloadInMB"]) * MB)


def sample_kind(model_dir: Path | None) -> str:
    """The folder's kind by the server's rule (``rerank``, ``multivector``, ``classify``, ``sparse``), else
    ``embedding`` (also: no folder); ``ValueError`` for a model set's root (a package is one model)."""
    if model_dir is None:
        return "embedding"
    from inference.handlers import RERANK_FAMILIES, model_family
    from marketplace.model_package import refuse_a_set

    refuse_a_set(model_dir)  # a package, and its samples, are one model's

    family = model_family(model_dir)
    family = "rerank" if family in RERANK_FAMILIES else family
    return family if family in DATA_BY_KIND else "embedding"


def sample_pairs(data: Path = DATA) -> Iterator[tuple[Path, Path]]:
    """(input, output) paths of every sample."""
    for source in sorted((data / "input" / "real-time").glob("*.json")):
        yield source, data / "output" / "real-time" / source.name
    for source in sorted((data / "input" / "batch").iterdir()):
        if source.suffix in BATCH_TYPES:
            yield source, data / "output" / "batch" / (source.name + ".out")


def generate(post: Post, batch: tuple[str, int], data: Path = DATA) -> dict[Path, bytes]:
    """Every sample output, keyed by its path."""
    strategy, max_payload = batch
    outputs: dict[Path, bytes] = {}
    for source, target in sample_pairs(data):
        body = source.read_bytes()
        if source.suffix == ".json":
            outputs[target] = post(body, JSON, JSON)
        else:
            content_type = BATCH_TYPES[source.suffix]
            invoke = lambda chunk, ct=content_type: post(chunk, ct, JSONLINES)  # noqa: E731
            outputs[target] = transform(body, invoke, strategy, max_payload)  # type: ignore[arg-type]
    return outputs


def _documents(blob: bytes, path: Path) -> list[Any]:
    if path.suffix == ".out":
        return [json.loads(line) for line in blob.decode("utf-8").splitlines()]
    return [json.loads(blob)]


def _floats(encoded: str) -> list[float]:
    return [x[0] for x in struct.iter_unpack("<f", base64.b64decode(encoded))]


def _normalise(value: Any) -> Any:
    """Base64 embeddings (and a multi-vector answer's base64 token vectors) as float lists, so they compare with a
    tolerance."""
    if isinstance(value, dict):
        out = {key: _normalise(item) for key, item in value.items()}
        if isinstance(value.get("embedding"), str):
            out["embedding"] = _floats(value["embedding"])
        tokens = value.get("embeddings")
        if isinstance(tokens, list) and tokens and all(isinstance(token, str) for token in tokens):
            out["embeddings"] = [_floats(token) for token in tokens]
        return out
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    return value


def differences(expected: Any, actual: Any, where: str = "") -> Iterator[str]:
    """Where two JSON documents differ: floats beyond ``ABS_TOL``, anything else at all."""
    if isinstance(expected, float) or isinstance(actual, float):
        if not (isinstance(expected, int | float) and isinstance(actual, int | float)):
            yield f"{where}: {expected!r} != {actual!r}"
        elif not math.isclose(expected, actual, abs_tol=ABS_TOL):
            yield f"{where}: {expected} != {actual}"
    elif isinstance(expected, dict) and isinstance(actual, dict):
        if expected.keys() != actual.keys():
            yield f"{where}: keys {sorted(expected)} != {sorted(actual)}"
        for key in expected.keys() & actual.keys():
            yield from differences(expected[key], actual[key], f"{where}.{key}")
    elif isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            yield f"{where}: {len(expected)} items != {len(actual)}"
        for index, (a, b) in enumerate(zip(expected, actual, strict=False)):
            yield from differences(a, b, f"{where}[{index}]")
    elif expected != actual:
        yield f"{where}: {expected!r} != {actual!r}"


def compare(path: Path, expected: bytes, actual: bytes) -> list[str]:
    """Differences between a stored sample output and a regenerated one (empty: they agree)."""
    found = differences(_normalise(_documents(expected, path)), _normalise(_documents(actual, path)), path.name)
    return list(found)[:20]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m marketplace.generate_samples", description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running server or container; default: the app in this process")
    parser.add_argument("--check", action="store_true", help="compare with data/output/ instead of writing")
    parser.add_argument("--model-dir", type=Path, help="in-process: serve this folder instead of the embedded model")
    parser.add_argument(
        "--data",
        type=Path,
        help="sample folder (input/, output/); default: data/, or the --model-dir kind's (data-rerank/, "
        "data-multivector/, data-classify/, data-sparse/)",
    )
    args = parser.parse_args(argv)
    data = args.data or DATA_BY_KIND[sample_kind(args.model_dir)]
    post, batch = http_post(args.url) if args.url else in_process_post(args.model_dir)
    outputs = generate(post, batch, data)
    failures = 0
    for path, blob in outputs.items():
        if args.check:
            problems = compare(path, path.read_bytes(), blob) if path.exists() else [f"{path} is missing"]
            failures += bool(problems)
            print(f"{'ok' if not problems else 'DIFFERS'} {path.relative_to(data)}", *problems, sep="\n  ")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(blob)
            print(f"wrote {path.relative_to(data)} ({len(blob)} bytes)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
