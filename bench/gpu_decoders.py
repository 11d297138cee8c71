"""Decoder models on a GPU: a 0.6B decoder embedder and a 0.6B decoder reranker (random weights, Qwen3-0.6B's
shape), this service's handlers next to the reference run in-process, in one table.

1. **Embedder** (Qwen3-Embedding-0.6B's shape: 28 layers, hidden 1024, 16 heads / 8 KV heads, last-token
   pooling), saved as a sentence-transformers folder: this service's text handler (tokenize, then ``forward``)
   against ``SentenceTransformer.encode`` on the same folder.
2. **Reranker** (Qwen3-Reranker-0.6B's shape, a ``Qwen3ForCausalLM`` whose model card says
   ``pipeline_tag: text-ranking``): this service's decoder reranker (``tokenize_pairs``, then ``score``) against
   the model card's reference code (``format_instruction``, left-padded batch, the last position's yes/no logits).

Both sides get the same texts and batch sizes, run in the dtype the service picks on the card (``EMB_DTYPE=auto``:
bfloat16 where supported; the reference is cast to it), time tokenisation plus the forward pass, with
``torch.cuda.synchronize`` around each pass; each point is the median of ``--repeats`` passes after a warm-up.
The tokenizer is all-MiniLM-L6-v2's WordPiece without special tokens (vocabulary 30,522): the weights are
random, so only the compute matters, and the layers are Qwen3-0.6B's. The table also gives each row's largest
difference of the service's outputs to the reference's (cosine for vectors, probability for scores).

    python -m bench.gpu_decoders                         # on a CUDA machine (bench/gpu.sh runs it after bench.gpu)
    python -m bench.gpu_decoders --device cpu --quick    # smoke run on CPU with 2-layer models
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
QWEN3_06B = {"hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28, "num_attention_heads": 16,
             "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 32768}  # fmt: skip
TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "head_dim": 16, "max_position_embeddings": 4096}  # fmt: skip
CARD = "---\npipeline_tag: text-ranking\n---\n# random Qwen3-Reranker-shaped model for the bench\n"
WORDS = "search engine vector query document passage ranking model token embedding dense sparse".split()


def _tokenizer_folder(folder: Path) -> Any:
    """MiniLM's WordPiece tokenizer without its [CLS]/[SEP] post-processor (a decoder's tokenizer adds none)."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    sys.path.insert(0, str(REPO))
    from inference.model_dir import embedded_model_dir

    source = AutoTokenizer.from_pretrained(embedded_model_dir())
    state = json.loads(source.backend_tokenizer.to_str())
    state["post_processor"] = None
    from tokenizers import Tokenizer

    fast = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(state)), pad_token="[PAD]",
                                   unk_token="[UNK]", eos_token="[SEP]", padding_side="left",
                                   model_max_length=8192)  # fmt: skip
    fast.save_pretrained(folder)
    return fast


def build_models(root: Path, shape: dict[str, int]) -> tuple[Path, Path]:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import Qwen3Config, Qwen3ForCausalLM, Qwen3Model

    torch.manual_seed(0)
    base, reranker = root / "embedder-base", root / "reranker"
    tokenizer = _tokenizer_folder(base)
    config = Qwen3Config(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **shape)
    Qwen3Model(config).save_pretrained(base)
    modules = [Transformer(str(base), max_seq_length=shape["max_position_embeddings"]),
               Pooling(shape["hidden_size"], pooling_mode="lasttoken"), Normalize()]  # fmt: skip
    SentenceTransformer(modules=modules, device="cpu").save(str(root / "embedder"))
    causal = Qwen3Config(vocab_size=len(tokenizer), tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id,
                         **shape)  # fmt: skip
    Qwen3ForCausalLM(causal).save_pretrained(reranker)
    _tokenizer_folder(reranker)
    (reranker / "README.md").write_text(CARD, encoding="utf-8")
    return root / "embedder", reranker


def _texts(count: int, words: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=words)) for _ in range(count)]


def _timed(run: Callable[[], Any], repeats: int, sync: Callable[[], None]) -> tuple[float, Any]:
    run()  # warm-up
    times, out = [], None
    for _ in range(repeats):
        sync()
        started = time.perf_counter()
        out = run()
        sync()
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def _embed(handler: Any, texts: list[str]) -> np.ndarray:
    return np.asarray(handler.forward(handler.tokenize(texts, None, True), None))


def _rerank(handler: Any, query: str, docs: list[str]) -> np.ndarray:
    return np.asarray(handler.activation(handler.score(handler.tokenize_pairs(query, docs, True))[:, 0]))


def _card_scores(model: Any, tokenizer: Any, query: str, docs: list[str], device: Any) -> np.ndarray:
    """Qwen3-Reranker's model card code: prefix + instruction/query/document + suffix, left-padded, P(yes)."""
    import torch

    prefix = ("<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
              'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n')
    suffix = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    instruction = "Given a web search query, retrieve relevant passages that answer the query"
    head, tail = tokenizer.encode(prefix, add_special_tokens=False), tokenizer.encode(suffix, add_special_tokens=False)
    pairs = [f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}" for doc in docs]
    inputs = tokenizer(pairs, padding=False, truncation="longest_first", return_attention_mask=False,
                       max_length=8192 - len(head) - len(tail))  # fmt: skip
    inputs["input_ids"] = [head + ids + tail for ids in inputs["input_ids"]]
    batch = tokenizer.pad(inputs, padding=True, return_tensors="pt").to(device)
    with torch.no_grad():
        logits = model(**batch).logits[:, -1, :]
    yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
    pair = torch.nn.functional.log_softmax(torch.stack([logits[:, no], logits[:, yes]], dim=1).float(), dim=1)
    return pair[:, 1].exp().cpu().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="2-layer models and small batches (a smoke run)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args, _ = parser.parse_known_args()  # bench/gpu.sh passes bench.gpu's options to both
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    sys.path.insert(0, str(REPO))
    from inference.handlers import load_handler
    from inference.settings import Settings

    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    points = [(32, 8), (128, 32)] if args.quick else [(32, 64), (32, 256), (512, 32), (2048, 8), (8192, 2)]
    rows = ["| model | words per text | batch | this service | reference in-process | ratio | largest difference |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        embedder_dir, reranker_dir = build_models(Path(scratch), TINY if args.quick else QWEN3_06B)
        # Explicit values only, as tests/conftest.py's make_settings: the process environment is not read.
        handler = load_handler(Settings.model_construct(model_dir=embedder_dir, device=args.device, warmup=False))
        dtype = getattr(torch, handler.info.dtype)
        reference = SentenceTransformer(str(embedder_dir), device=args.device, model_kwargs={"torch_dtype": dtype})
        for words, batch in points:
            texts = _texts(batch, words, seed=words)
            ours_s, ours = _timed(partial(_embed, handler, texts), args.repeats, sync)
            ref_s, ref = _timed(partial(reference.encode, texts, batch_size=batch), args.repeats, sync)
            ours = ours / np.linalg.norm(ours, axis=1, keepdims=True)
            gap = 1 - float(np.min(np.sum(ours * ref, axis=1)))
            rows.append(f"| embedder, {handler.info.dtype} | {words} | {batch} | {batch / ours_s:,.0f} texts/s | "
                        f"{batch / ref_s:,.0f} texts/s | {ref_s / ours_s:.2f}x | cosine gap {gap:.1e} |")  # fmt: skip
        reranker = load_handler(Settings.model_construct(model_dir=reranker_dir, device=args.device, warmup=False))
        card_tokenizer = AutoTokenizer.from_pretrained(reranker_dir, padding_side="left")
        card_model = AutoModelForCausalLM.from_pretrained(reranker_dir, dtype=dtype).to(device).eval()
        for words, batch in points:
            docs, query = _texts(batch, words, seed=words + 1), "search ranking query"
            ours_s, ours = _timed(partial(_rerank, reranker, query, docs), args.repeats, sync)
            ref_s, ref = _timed(partial(_card_scores, card_model, card_tokenizer, query, docs, device), args.repeats,
                                sync)  # fmt: skip
            rows.append(f"| reranker, {reranker.info.dtype} | {words} | {batch} | {batch / ours_s:,.0f} pairs/s | "
                        f"{batch / ref_s:,.0f} pairs/s | {ref_s / ours_s:.2f}x | "
                        f"{float(np.max(np.abs(ours - ref))):.1e} |")  # fmt: skip
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    table = "\n".join([f"Device: {name}; torch {torch.__version__}; shape {'tiny' if args.quick else 'Qwen3-0.6B'}.",
                       "", *rows])  # fmt: skip
    print(table)
    if args.out is not None:
        args.out.write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
