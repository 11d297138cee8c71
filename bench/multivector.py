"""Side-by-side late-interaction (ColBERT-style) benchmark: one command, one table.

For each multi-vector model (default: a tiny one and a MiniLM-L6-sized one, both built offline in PyLate's layout,
see ``build_model``) and the same texts (documents: ``bench/corpus.py``'s ``realistic`` mix, so lengths run from
one line to past the 256-token document length; queries: its ``short`` texts), it measures

1. the reference, Sentence Transformers' ``MultiVectorEncoder`` in-process (the no-HTTP ceiling):
   ``encode_document`` on every document at once (docs/s; it sorts by length before batching), and a MaxSim
   rerank per query as one rerank request does it, ``encode_query`` + ``encode_document`` on the query's
   documents + ``similarity`` (pairs/s; one query after another);
2. this service over HTTP (``python -m inference --model-dir FOLDER``, production defaults), under closed-loop
   concurrent clients (``bench/loadgen.py``): ``POST /v1/rerank`` with each query and its ``--docs-per-query``
   (16) documents (``return_documents: false``), and ``POST /v1/multi-vector`` with the same document groups
   (``input_type: "document"``) twice: ``embedding_type: "base64"`` (each token vector as little-endian float32
   bytes, so JSON costs stay small) and ``"float"``, the latter in requests of ``--float-docs`` (8) documents,
   since 16 documents' float answer can exceed the default 6 MB response limit and be refused with 413.

Printed: docs/s or pairs/s, tokens/s (tokens the model sees, counted client-side: a document's marker and text cut
at the document length; a query is always the query length), p50/p99 request latency, errors, the ratios to the
reference, and a parity check: the largest absolute difference between the server's token vectors (and MaxSim
scores) and the reference's on the first request's documents. Servers run on free 127.0.0.1 ports and are stopped
at the end; nothing else is contacted.

Infinity is not in this table: it has no multi-vector endpoint and no query/document input types (its torch engine
answers some ColBERT folders' token vectors on ``/embeddings``, without markers or query expansion), and its
``/rerank`` runs cross-encoders only, so there is no like-for-like request to send it.

    python bench/multivector.py                     # the full table (a few minutes on 2 CPU cores)
    python -m bench.multivector --quick             # a smoke run of the pipeline (tiny model: seconds)
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from corpus import build_corpus, fingerprint  # noqa: E402
from loadgen import LoadResult, _Client  # noqa: E402
from loadgen import Workload as HttpWorkload  # noqa: E402
from loadgen import run_load as loadgen_run_load  # noqa: E402
from rerank import _check as rerank_check  # noqa: E402
from rerank import _ratio  # noqa: E402
from run import _gpu_dtype, hardware, load_average  # noqa: E402
from servers import HOST, OFFLINE_ENV, RunningServer, ServerSpec, this_service  # noqa: E402

MODEL_NAME = "bench"
QUERY_LENGTH, DOCUMENT_LENGTH, WIDTH = 32, 256, 128
MARKERS = ("[unused0]", "[unused1]")  # PyLate's query / document prefixes (vocabulary entries of the BERT tokenizer)
IDENTITY = "torch.nn.modules.linear.Identity"  # PyLate's ColBERT Dense: no activation, no bias
MODELS = {
    "tiny": f"BERT 2 layers x 32 hidden, random weights + a random Dense 32->{WIDTH}; real WordPiece tokenizer",
    "minilm-l6": f"the embedded all-MiniLM-L6-v2 encoder weights (6 x 384) + a random Dense 384->{WIDTH}",
}
BUILD_VERSION = 1
EMBEDDING_TYPES = ("base64", "float")


# -- models -----------------------------------------------------------------------------------------------
def _write_pylate_files(folder: Path, hidden: int) -> None:
    """PyLate's files beside a saved BERT: ``1_Dense`` (``pylate.models.Dense.Dense``, a seeded random projection
    ``hidden -> WIDTH``), ``modules.json`` and the ColBERT keys in ``config_sentence_transformers.json``."""
    import string

    import torch
    from safetensors.torch import save_file

    dense = folder / "1_Dense"
    dense.mkdir()
    config = {"in_features": hidden, "out_features": WIDTH, "bias": False, "activation_function": IDENTITY,
              "use_residual": False}  # fmt: skip
    (dense / "config.json").write_text(json.dumps(config))
    generator = torch.Generator().manual_seed(0)
    save_file({"linear.weight": torch.randn(WIDTH, hidden, generator=generator) / hidden**0.5},
              str(dense / "model.safetensors"))  # fmt: skip
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Dense", "type": "pylate.models.Dense.Dense"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    # PyLate rewrites max_seq_length on every tokenize call: what it saves is the last call's (a query's).
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": QUERY_LENGTH - 1,
                                                                  "do_lower_case": False}))  # fmt: skip
    st_config = {
        "__version__": {"sentence_transformers": "3.4.1", "transformers": "4.48.2", "pytorch": "2.5.1"},
        "prompts": {}, "default_prompt_name": None, "similarity_fn_name": "MaxSim",
        "query_prefix": MARKERS[0], "document_prefix": MARKERS[1],
        "query_length": QUERY_LENGTH, "document_length": DOCUMENT_LENGTH,
        "attend_to_expansion_tokens": False, "skiplist_words": list(string.punctuation), "do_query_expansion": True,
    }  # fmt: skip
    (folder / "config_sentence_transformers.json").write_text(json.dumps(st_config, indent=2))


def build_model(name: str, root: Path) -> Path:
    """A PyLate-layout ColBERT folder (a BERT at the root, ``1_Dense``, the ColBERT settings), built once under
    ``root`` and reused while its spec is unchanged. Offline; seeded."""
    folder = root / name
    spec = {"name": name, "version": BUILD_VERSION, "query_length": QUERY_LENGTH, "document_length": DOCUMENT_LENGTH,
            "width": WIDTH, "markers": list(MARKERS)}  # fmt: skip
    marker = folder / "bench_build.json"
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return folder
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    sys.path.insert(0, str(BENCH_DIR.parent))
    from inference.model_dir import embedded_model_dir

    source = Path(embedded_model_dir())
    shutil.rmtree(folder, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(source)
    torch.manual_seed(0)
    if name == "tiny":
        config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64, max_position_embeddings=512)  # fmt: skip
        model = BertModel(config, add_pooling_layer=False)
    elif name == "minilm-l6":
        model = BertModel.from_pretrained(source, add_pooling_layer=False)
    else:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    model.eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    _write_pylate_files(folder, model.config.hidden_size)
    marker.write_text(json.dumps(spec))
    return folder


def model_facts(folder: Path) -> dict[str, Any]:
    from safetensors import safe_open

    config = json.loads((folder / "config.json").read_text())
    params = 0
    for weights_path in (folder / "model.safetensors", folder / "1_Dense" / "model.safetensors"):
        with safe_open(str(weights_path), "np") as weights:
            for key in weights.keys():
                count = 1
                for dim in weights.get_slice(key).get_shape():
                    count *= dim
                params += count
    return {"layers": config["num_hidden_layers"], "hidden": config["hidden_size"], "params": params}


# -- workload ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Workload:
    queries: list[str]
    documents: list[list[str]]  # per query: one /v1/rerank request, and the same group in one /v1/multi-vector one
    doc_tokens: list[list[int]]  # per document: the tokens the model sees (marker + text, cut at DOCUMENT_LENGTH)

    @property
    def flat_documents(self) -> list[str]:
        return [d for docs in self.documents for d in docs]

    def multivector_bodies(self, embedding_type: str) -> list[bytes]:
        import orjson

        return [orjson.dumps({"input": docs, "model": MODEL_NAME, "input_type": "document",
                              "embedding_type": embedding_type}) for docs in self.documents]  # fmt: skip

    def rerank_bodies(self) -> list[bytes]:
        import orjson

        return [orjson.dumps({"query": q, "documents": docs, "model": MODEL_NAME, "return_documents": False})
                for q, docs in zip(self.queries, self.documents, strict=True)]  # fmt: skip

    def regroup(self, size: int) -> Workload:
        """The same documents in requests of at most ``size`` (each keeps its query)."""
        if size >= max(len(docs) for docs in self.documents):
            return self
        queries, documents, tokens = [], [], []
        for query, docs, counts in zip(self.queries, self.documents, self.doc_tokens, strict=True):
            for start in range(0, len(docs), size):
                queries.append(query)
                documents.append(docs[start : start + size])
                tokens.append(counts[start : start + size])
        return Workload(queries, documents, tokens)

    def head(self, requests: int, docs: int) -> Workload:
        """The first ``requests`` requests with at most ``docs`` documents each (warm-up)."""
        return Workload(self.queries[:requests], [ds[:docs] for ds in self.documents[:requests]],
                        [ts[:docs] for ts in self.doc_tokens[:requests]])  # fmt: skip


def _tokenizer(folder: Path) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def build_workload(queries: int, docs_per_query: int, seed: int, folder: Path) -> Workload:
    qs = [q.strip() for q in build_corpus(queries, seed, "short")]
    flat = [d.strip() for d in build_corpus(queries * docs_per_query, seed + 1, "realistic")]
    docs = [flat[i * docs_per_query : (i + 1) * docs_per_query] for i in range(queries)]
    encoded = _tokenizer(folder).encode_batch(flat)
    counts = [min(len(e.ids) + 1, DOCUMENT_LENGTH) for e in encoded]  # + the document marker
    tokens = [counts[i * docs_per_query : (i + 1) * docs_per_query] for i in range(queries)]
    return Workload(qs, docs, tokens)


def describe(workload: Workload, folder: Path) -> dict[str, Any]:
    flat = workload.flat_documents
    full = sorted(len(e.ids) + 1 for e in _tokenizer(folder).encode_batch(flat))
    query_tokens = sorted(len(e.ids) - 2 for e in _tokenizer(folder).encode_batch(workload.queries))
    tokens = sum(sum(ts) for ts in workload.doc_tokens)
    return {
        "queries": len(workload.queries),
        "documents": len(flat),
        "doc_tokens": tokens,
        "mean_tokens": round(tokens / len(flat), 1),
        "query_tokens_p50": query_tokens[len(query_tokens) // 2],
        "doc_p50_full": full[len(full) // 2],
        "doc_p90_full": full[min(len(full) - 1, int(0.9 * len(full)))],
        "doc_max_full": full[-1],
        "over_limit_pct": round(100 * sum(1 for n in full if n > DOCUMENT_LENGTH) / len(full), 1),
        "fingerprint": fingerprint([*workload.queries, *flat]),
    }


# -- the reference in-process (a child process: its torch threads and memory are gone before the server runs) -----
def _timed(sync: Any, work: Any) -> tuple[float, Any]:
    sync()
    started = time.perf_counter()
    result = work()
    sync()
    return time.perf_counter() - started, result


def ceiling_child(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from sentence_transformers import MultiVectorEncoder

    spec = json.loads(Path(args.ceiling_child).read_text())
    kwargs = {"model_kwargs": {"dtype": getattr(torch, spec["dtype"])}} if spec["dtype"] else {}
    model = MultiVectorEncoder(spec["folder"], device=spec["device"], local_files_only=True, **kwargs)
    queries, documents = spec["queries"], spec["documents"]
    flat = [d for docs in documents for d in docs]

    def sync() -> None:
        if spec["device"].startswith("cuda"):
            torch.cuda.synchronize()

    model.similarity(model.encode_query(queries[:2]), model.encode_document(flat[:32], batch_size=32))  # warm-up
    encode_runs = []
    for batch_size in spec["batch_sizes"]:
        seconds, _ = _timed(sync, lambda b=batch_size: model.encode_document(flat, batch_size=b))
        encode_runs.append({"batch_size": batch_size, "seconds": seconds})
    rerank_batch = min(encode_runs, key=lambda r: r["seconds"])["batch_size"]

    def rerank_all() -> list[list[float]]:  # one rerank request after another, each as the server answers one
        return [model.similarity(model.encode_query([q]), model.encode_document(docs, batch_size=rerank_batch))[0]
                .float().cpu().tolist() for q, docs in zip(queries, documents, strict=True)]  # fmt: skip

    rerank_s, scores = _timed(sync, rerank_all)
    probe = model.encode_document(documents[0], batch_size=rerank_batch, convert_to_numpy=True)
    np.savez(spec["probe_path"], *[np.asarray(v, dtype=np.float32) for v in probe])
    print(json.dumps({"encode_runs": encode_runs, "rerank": {"batch_size": rerank_batch, "seconds": rerank_s},
                      "probe_scores": scores[0], "torch_threads": torch.get_num_threads()}))  # fmt: skip
    return 0


def run_ceiling(folder: Path, workload: Workload, args: argparse.Namespace, device: str, dtype: str | None) -> dict:
    import numpy as np

    spec_path, probe_path = args.out / "multivector-ceiling.json", args.out / "multivector-probe.npz"
    batch_sizes = [int(b) for b in args.st_batch_sizes.split(",")]
    spec = {"folder": str(folder), "device": device, "dtype": dtype, "queries": workload.queries,
            "documents": workload.documents, "batch_sizes": batch_sizes, "probe_path": str(probe_path)}  # fmt: skip
    spec_path.write_text(json.dumps(spec))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--ceiling-child", str(spec_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **OFFLINE_ENV})
    if done.returncode:
        raise RuntimeError(f"MultiVectorEncoder reference failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    with np.load(probe_path) as probe:
        result["probe_vectors"] = [probe[f"arr_{i}"] for i in range(len(probe.files))]
    probe_path.unlink()
    return result


# -- load over HTTP ----------------------------------------------------------------------------------------
def _decode(embeddings: Any, embedding_type: str) -> Any:
    import numpy as np

    if embedding_type == "base64":
        return np.stack([np.frombuffer(base64.b64decode(v), dtype="<f4") for v in embeddings])
    return np.asarray(embeddings, dtype=np.float32)


def _check_multivector(status: int, data: bytes, expected: int) -> tuple[str | None, list[Any]]:
    import orjson

    if status != 200:
        return f"HTTP {status}: {data[:200]!r}", []
    try:
        rows = sorted(orjson.loads(data)["data"], key=lambda row: row["index"])
        vectors = [row["embeddings"] for row in rows]
    except (orjson.JSONDecodeError, KeyError, TypeError) as err:
        return f"bad body ({err}): {data[:200]!r}", []
    if len(vectors) != expected:
        return f"{len(vectors)} entries for {expected} documents", []
    if not all(isinstance(v, list) and v for v in vectors):
        return "an entry without token vectors", []
    return None, vectors


def _http_workload(workload: Workload, bodies: list[bytes], extra_tokens: int) -> HttpWorkload:
    sizes = [len(docs) for docs in workload.documents]
    return HttpWorkload(bodies, sizes, [sum(ts) + extra_tokens for ts in workload.doc_tokens])


def run_load(
    url: str, workload: Workload, concurrency: int, kind: str, name: str, timeout: float = 300.0
) -> LoadResult:
    """Closed loop (loadgen's): ``concurrency`` threads, one keep-alive connection each, send every request once.
    ``kind``: ``rerank`` or an ``embedding_type`` of ``/v1/multi-vector``."""
    if kind == "rerank":  # the query is encoded once per request, always QUERY_LENGTH tokens (expansion)
        requests, checker = _http_workload(workload, workload.rerank_bodies(), QUERY_LENGTH), rerank_check
    else:
        requests, checker = _http_workload(workload, workload.multivector_bodies(kind), 0), _check_multivector

    def check(status: int, data: bytes, size: int) -> str | None:
        return checker(status, data, size)[0]

    return loadgen_run_load(url, requests, concurrency=concurrency, timeout=timeout, name=name,
                            batch_size=max(requests.sizes), check=check)  # fmt: skip


def probe_vectors(url: str, workload: Workload, embedding_type: str, reference: list[Any]) -> float:
    """Largest |server token vector - MultiVectorEncoder.encode_document| over the first request's documents
    (inf when a document's token count or width differs)."""
    status, data = _Client(url, 120).post(workload.multivector_bodies(embedding_type)[0])
    problem, vectors = _check_multivector(status, data, len(workload.documents[0]))
    if problem:
        raise RuntimeError(f"multi-vector probe request failed: {problem}")
    worst = 0.0
    for index, (got, want) in enumerate(zip(vectors, reference[: len(vectors)], strict=True)):
        mine = _decode(got, embedding_type)
        if mine.shape != want.shape:
            print(f"    document {index}: {mine.shape} token vectors, the reference {want.shape}", flush=True)
            return float("inf")
        worst = max(worst, float(abs(mine - want).max()))
    return worst


def probe_scores(url: str, workload: Workload, reference: list[float]) -> float:
    """Largest |score - MultiVectorEncoder.similarity| over the first request's documents."""
    status, data = _Client(url, 120).post(workload.rerank_bodies()[0])
    problem, scores = rerank_check(status, data, len(workload.documents[0]))
    if problem:
        raise RuntimeError(f"rerank probe request failed: {problem}")
    return max(abs(a - b) for a, b in zip(scores, reference, strict=True))


def _row(name: str, kind: str, result: LoadResult, diff: float) -> dict[str, Any]:
    return {"system": name, "kind": kind, "clients": result.concurrency, "docs_per_request": result.batch_size,
            "per_s": result.texts_per_s,
            "tokens_per_s": result.tokens_per_s, "p50_ms": result.percentile(50), "p99_ms": result.percentile(99),
            "errors": result.errors, "first_error": result.first_error, "max_diff": diff}  # fmt: skip


def measure_server(spec: ServerSpec, folder: Path, workload: Workload, clients: list[int], ceiling: dict,
                   args: Any) -> dict[str, Any]:  # fmt: skip
    rows = []
    kinds = [*args.embedding_types, "rerank"]
    with RunningServer(spec, folder, args.out / "logs", ready_timeout=args.ready_timeout) as server:
        print(f"  {spec.name}: ready in {server.startup_s:.1f}s on port {server.port}", flush=True)
        urls = {kind: f"http://{HOST}:{server.port}/v1/{'rerank' if kind == 'rerank' else 'multi-vector'}"
                for kind in kinds}  # fmt: skip
        loads = {kind: workload.regroup(args.float_docs) if kind == "float" else workload for kind in kinds}
        diffs = {kind: probe_vectors(urls[kind], loads[kind], kind, ceiling["probe_vectors"])
                 for kind in args.embedding_types}  # fmt: skip
        diffs["rerank"] = probe_scores(urls["rerank"], workload, ceiling["probe_scores"])
        print("    max |difference| to MultiVectorEncoder on the first request: "
              + ", ".join(f"{kind} {diff:.2e}" for kind, diff in diffs.items()), flush=True)  # fmt: skip
        for concurrency in clients:
            for kind in kinds:
                run_load(urls[kind], loads[kind].head(concurrency, 4), concurrency, kind, spec.name)  # warm-up
                result = run_load(urls[kind], loads[kind], concurrency, kind, spec.name)
                unit = "pairs/s" if kind == "rerank" else "docs/s"
                print(f"    {kind}, {concurrency} clients: {result.texts_per_s:.1f} {unit}, p50 "
                      f"{result.percentile(50):.0f} ms, p99 {result.percentile(99):.0f} ms, errors {result.errors}"
                      + (f" (first: {result.first_error})" if result.first_error else ""), flush=True)  # fmt: skip
                rows.append(_row(spec.name, kind, result, diffs[kind]))
    return {"rows": rows, "startup_s": server.startup_s}


# -- report -------------------------------------------------------------------------------------------------
WORK = {
    "base64": "/v1/multi-vector, {n} documents per request, embedding_type base64",
    "float": "/v1/multi-vector, {n} documents per request, embedding_type float",
    "rerank": "/v1/rerank (MaxSim), 1 query + {n} documents per request",
}


def _noise_note(load_before: str, cores: Any) -> str:
    """A warning when other work was running before the run (1-minute load average at least half the cores)."""
    try:
        busy = float(load_before.split()[0]) >= 0.5 * float(cores)
    except (ValueError, IndexError, TypeError):
        return ""
    return "; other work was running on these cores (load before the run): expect noisy figures" if busy else ""


def _header(report: dict[str, Any]) -> list[str]:
    hw = report["hardware"]
    n = report["docs_per_query"]
    return [
        f"Hardware: {hw['cpu']}, {hw['cores']} cores, {hw['memory']} RAM"
        + (f", GPU {hw['gpu']}" if hw["gpu"] else ", no GPU")
        + f"; Python {hw['python']}, torch {hw['torch']} ({hw['torch_threads']} threads), sentence-transformers "
        f"{report['sentence_transformers']}; {hw['os']}",
        f"Device: {report['device']}; OMP_WAIT_POLICY={report['omp_wait_policy']} for both; load average "
        f"before/after: {report['load_before']} / {report['load_after']}"
        + _noise_note(report["load_before"], hw["cores"]),
        f"Requests: {n} documents each. /v1/multi-vector: {{input: [documents], input_type: document, "
        f"embedding_type, model}} (base64: each token vector as little-endian float32 bytes; float: JSON numbers, "
        f"{report['float_docs']} documents per request, as {n} can exceed the default 6 MB response limit). "
        f"/v1/rerank: {{query, documents: [{n}], model, return_documents: false}}. The reference does the same work "
        "in-process: encode_document on all documents at once; per query encode_query + encode_document + "
        "similarity (MaxSim), one query after another",
        f"Lengths: query {QUERY_LENGTH} tokens (expanded), documents cut at {DOCUMENT_LENGTH}; {WIDTH}-wide token "
        "vectors. Infinity: not compared (no multi-vector endpoint; its /rerank runs cross-encoders only)",
        "",
    ]


def _model_line(model: dict[str, Any], report: dict[str, Any]) -> str:
    c, facts = model["corpus"], model["facts"]
    return (
        f"- **{model['name']}**: {model['description']}; PyLate layout; {facts['params'] / 1e6:.1f} M parameters. "
        f"Texts: {c['queries']} queries (corpus mix short, p50 {c['query_tokens_p50']} tokens) x "
        f"{report['docs_per_query']} documents (mix realistic) = {c['documents']} documents, {c['mean_tokens']} "
        f"tokens each after truncation; untruncated p50/p90/max {c['doc_p50_full']}/{c['doc_p90_full']}/"
        f"{c['doc_max_full']}, {c['over_limit_pct']}% over {DOCUMENT_LENGTH} (seed {report['seed']}, fingerprint "
        f"{c['fingerprint']})"
    )


def _cells(kind: str, per_s: float) -> str:
    return f"| {per_s:.1f} |" if kind == "rerank" else f"{per_s:.1f} | |"


def render(report: dict[str, Any]) -> str:
    lines = _header(report) + [_model_line(model, report) for model in report["models"]]
    lines += [
        "",
        "| Model | System | Work | Clients | docs/s | pairs/s | tokens/s | p50 ms | p99 ms | errors | vs reference "
        "| max abs diff |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for model in report["models"]:
        ref, name = model["ceiling"], model["name"]
        system = "sentence-transformers MultiVectorEncoder, in-process"
        lines += [
            f"| {name} | {system} | encode_document, all documents (batch {ref['encode_batch']}) | - | "
            f"{ref['docs_per_s']:.1f} | | {ref['encode_tokens_per_s']:.0f} | | | 0 | 1.00x | 0 |",
            f"| {name} | {system} | MaxSim rerank: encode_query + encode_document + similarity, per query | - | | "
            f"{ref['pairs_per_s']:.1f} | {ref['rerank_tokens_per_s']:.0f} | | | 0 | 1.00x | 0 |",
        ]
        for row in model["rows"]:
            base = ref["pairs_per_s"] if row["kind"] == "rerank" else ref["docs_per_s"]
            lines.append(
                f"| {name} | {row['system']} (HTTP) | {WORK[row['kind']].format(n=row['docs_per_request'])} | "
                f"{row['clients']} | "
                f"{_cells(row['kind'], row['per_s'])} {row['tokens_per_s']:.0f} | {row['p50_ms']:.0f} | "
                f"{row['p99_ms']:.0f} | {row['errors']} | {_ratio(row['per_s'], base)} | {row['max_diff']:.1e} |"
            )
    lines += [
        "",
        "max abs diff: token vectors (multi-vector rows) or MaxSim scores (rerank rows) against the reference's "
        "on the first request's documents.",
        "",
        f"Command: `{report['command']}`  ({report['wall_s']:.0f} s)",
    ]
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help=f"comma-separated, of: {', '.join(MODELS)} (default: all; --quick: tiny)")
    parser.add_argument("--queries", help="queries per model, NAME=N or N (default: tiny=64,minilm-l6=32 on CPU)")
    parser.add_argument("--docs-per-query", type=int, default=16, help="documents per request (default 16)")
    parser.add_argument("--clients", default="4", help="comma-separated concurrent clients (default 4)")
    parser.add_argument("--embedding-types", default=",".join(EMBEDDING_TYPES),
                        help="/v1/multi-vector embedding_type rows, of: base64, float (default: both)")  # fmt: skip
    parser.add_argument("--float-docs", type=int, default=8,
                        help="documents per float request (default 8: 16 documents' float answer can exceed the "
                        "default 6 MB response limit, EMB_MAX_RESPONSE_MB, and is refused with 413)")  # fmt: skip
    parser.add_argument("--st-batch-sizes", default="32", help="encode_document batch sizes, the best counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="models, report and server logs")
    parser.add_argument("--quick", action="store_true", help="smoke run: the tiny model, few queries")
    parser.add_argument("--ceiling-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.embedding_types = [t.strip() for t in args.embedding_types.split(",") if t.strip()]
    if unknown := set(args.embedding_types) - set(EMBEDDING_TYPES):
        parser.error(f"unknown embedding types {sorted(unknown)}; known: {', '.join(EMBEDDING_TYPES)}")
    args.models = args.models or ("tiny" if args.quick else ",".join(MODELS))
    if args.quick:
        args.queries = args.queries or "tiny=4,minilm-l6=2"
    return args


def _queries(args: argparse.Namespace, on_gpu: bool) -> dict[str, int]:
    counts = {"tiny": 512, "minilm-l6": 256} if on_gpu else {"tiny": 64, "minilm-l6": 32}
    for part in (args.queries or "").split(","):
        if "=" in part:
            name, value = part.split("=", 1)
            counts[name.strip()] = int(value)
        elif part.strip():
            counts = dict.fromkeys(counts, int(part))
    return counts


def _ceiling_row(ceiling: dict[str, Any], corpus: dict[str, Any]) -> dict[str, Any]:
    best = min(ceiling["encode_runs"], key=lambda r: r["seconds"])
    rerank_s = ceiling["rerank"]["seconds"]
    return {"encode_batch": best["batch_size"], "docs_per_s": corpus["documents"] / best["seconds"],
            "encode_tokens_per_s": corpus["doc_tokens"] / best["seconds"],
            "pairs_per_s": corpus["documents"] / rerank_s,
            "rerank_tokens_per_s": (corpus["doc_tokens"] + QUERY_LENGTH * corpus["queries"]) / rerank_s}  # fmt: skip


def measure_model(name: str, args: argparse.Namespace, counts: dict[str, int], device: str, dtype: str | None,
                  clients: list[int]) -> dict[str, Any]:  # fmt: skip
    folder = build_model(name, args.out / "multivector-models")
    workload = build_workload(counts[name], args.docs_per_query, args.seed, folder)
    corpus = describe(workload, folder)
    print(f"{name}: {folder}\n  texts: {corpus}", flush=True)
    print("  sentence-transformers MultiVectorEncoder (in-process) ...", flush=True)
    ceiling = run_ceiling(folder, workload, args, device, dtype)
    ceiling_row = _ceiling_row(ceiling, corpus)
    print(f"    encode_document {ceiling_row['docs_per_s']:.1f} docs/s (batch {ceiling_row['encode_batch']}); "
          f"MaxSim rerank {ceiling_row['pairs_per_s']:.1f} pairs/s", flush=True)  # fmt: skip
    spec = this_service(folder)
    print(f"  {spec.name} over HTTP ...", flush=True)
    measured = measure_server(spec, folder, workload, clients, ceiling, args)
    return {"name": name, "description": MODELS[name], "folder": str(folder), "facts": model_facts(folder),
            "corpus": corpus, "ceiling": ceiling_row, "ceiling_runs": ceiling["encode_runs"],
            "rows": measured["rows"], "startup_s": measured["startup_s"]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.ceiling_child:
        return ceiling_child(args)
    started = time.monotonic()
    # Our server sets OMP_WAIT_POLICY=PASSIVE for its workers; give the reference the same (as bench/rerank.py).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import sentence_transformers
    import torch

    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    dtype = _gpu_dtype(device)
    hw = hardware()
    load_before = load_average()
    print(f"hardware: {hw}\nload average: {load_before}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    clients = [int(c) for c in args.clients.split(",") if c]
    counts = _queries(args, device == "cuda")
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    models = [measure_model(name, args, counts, device, dtype, clients) for name in names]
    report = {
        "hardware": hw,
        "sentence_transformers": sentence_transformers.__version__,
        "device": device,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "seed": args.seed,
        "docs_per_query": args.docs_per_query,
        "float_docs": min(args.float_docs, args.docs_per_query),
        "models": models,
        "load_before": load_before,
        "load_after": load_average(),
        "command": " ".join(["python bench/multivector.py", *(argv if argv is not None else sys.argv[1:])]),
        "wall_s": time.monotonic() - started,
    }
    table = render(report)
    stem = f"multivector-{device}" + ("-quick" if args.quick else "")
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2, default=str))
    (args.out / f"{stem}.md").write_text(table + "\n")
    print("\n" + table)
    return 1 if any(row["errors"] for model in models for row in model["rows"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
