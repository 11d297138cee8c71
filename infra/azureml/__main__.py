"""CLI: ``python -m infra.azureml {plan,deploy,status,invoke,delete} [--config FILE] [overrides]``.

Settings come from ``--config`` (JSON, see ``deploy.example.json``) with command-line flags winning;
subscription / resource group / workspace also default to ``AZURE_SUBSCRIPTION_ID``,
``AZURE_RESOURCE_GROUP`` and ``AZUREML_WORKSPACE``. ``plan`` and ``deploy --dry-run`` print the exact
REST bodies and touch nothing (no credential needed). Exit codes: 0 ok, 1 Azure error, 2 bad input.

Every kind of model the image serves deploys the same way; ``invoke`` sends the body of the endpoint's kind (what
the container answers on ``/invocations`` with that kind loaded) and summarises the answer: ``--text ...`` embeds,
``--query Q --text DOC ...`` ranks (a reranker, or a multi-vector model by MaxSim), ``--kind multivector`` gets the
texts' token vectors (``--input-type query|document``), ``--kind classify`` their labels and ``--kind sparse`` their
sparse vectors (TEI's ``{"inputs"}``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config_file import layered, read_json_object, run_cli
from .config import AzureMLConfig, AzureMLTarget

DRY_RUN_LOCATION = "<workspace-location>"
KINDS = ("embedding", "rerank", "multivector", "classify", "sparse")  # the served model (container/pack_model.py)
# Flags that map 1:1 onto config fields (dest == field name). Defaults None: "not given".
TARGET_FLAGS: dict[str, type] = {
    "subscription_id": str,
    "resource_group": str,
    "workspace": str,
    "location": str,
    "endpoint_name": str,
    "deployment_name": str,
}
DEPLOY_FLAGS: dict[str, type] = {
    "image": str,
    "environment_version": str,
    "model_path": str,
    "model_ref": str,
    "model_name": str,
    "model_version": str,
    "instance_type": str,
    "instance_count": int,
    "request_timeout_s": int,
    "max_concurrent_requests_per_instance": int,
    "model_load_timeout_s": int,
    "auth_mode": str,
    "traffic_percent": int,
}
ENV_DEFAULTS = {
    "subscription_id": "AZURE_SUBSCRIPTION_ID",
    "resource_group": "AZURE_RESOURCE_GROUP",
    "workspace": "AZUREML_WORKSPACE",
}


def _add_flags(parser: argparse.ArgumentParser, flags: dict[str, type]) -> None:
    for field, kind in flags.items():
        parser.add_argument("--" + field.replace("_", "-"), dest=field, type=kind, default=None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra.azureml", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {
        "plan": "print the REST bodies deploy would send (no Azure calls)",
        "deploy": "create/update environment, model, endpoint, deployment, traffic",
        "status": "endpoint + deployments state (--logs N: container log tail)",
        "invoke": "POST an embeddings request (with --query a rerank request; --kind: another kind's) to the endpoint",
        "delete": "delete the endpoint (or --deployment-only)",
    }
    for name, help_text in commands.items():
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--config", help="JSON config file (fields of AzureMLConfig)")
        _add_flags(cmd, TARGET_FLAGS)
        if name in ("plan", "deploy"):
            _add_flags(cmd, DEPLOY_FLAGS)
            cmd.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="container variable")
        if name == "plan":
            cmd.add_argument("--yaml-dir", help="also write az ml CLI v2 YAML specs into this folder")
        if name == "deploy":
            cmd.add_argument("--dry-run", action="store_true", help="print REST bodies, call nothing")
            cmd.add_argument(
                "--endpoint-only",
                action="store_true",
                help="only create the endpoint and print its identity (grant AcrPull on a foreign registry first)",
            )
        if name == "status":
            cmd.add_argument("--logs", type=int, default=0, metavar="N", help="also print N log lines")
        if name == "invoke":
            cmd.add_argument("--text", action="append", default=[], help="input text, or document to rank (repeat)")
            cmd.add_argument("--kind", choices=KINDS, help="the endpoint's kind, which picks the request (default: "
                             "rerank with --query, else embedding)")
            cmd.add_argument("--query", help="a reranker or multi-vector model: rank the --text documents against it")
            cmd.add_argument("--top-n", type=int, help="with --query: only the best N results")
            cmd.add_argument("--input-type", choices=["query", "document"],
                             help="--kind multivector: encode the texts as queries or as documents (default)")
            cmd.add_argument("--file", help="JSON request body file instead of --text")
            cmd.add_argument("--deployment", help="pin a deployment (azureml-model-deployment header)")
            cmd.add_argument("--raw", action="store_true", help="print the whole JSON response")
        if name == "delete":
            cmd.add_argument("--deployment-only", action="store_true", help="delete only --deployment-name")
            cmd.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


def load_config(args: argparse.Namespace) -> AzureMLTarget:
    """AzureMLConfig for plan/deploy, AzureMLTarget otherwise; flags > file > environment variables."""
    names = list(TARGET_FLAGS) + (list(DEPLOY_FLAGS) if args.command in ("plan", "deploy") else [])
    flags: dict[str, Any] = {name: getattr(args, name) for name in names}
    file_data = read_json_object(args.config) if args.config else {}
    if args.command in ("plan", "deploy"):
        if args.env:
            flags["env"] = {**file_data.get("env", {}), **_parse_env(args.env)}
        return AzureMLConfig.model_validate(layered(file_data, ENV_DEFAULTS, flags))
    return AzureMLTarget.model_validate(layered(file_data, ENV_DEFAULTS, flags))


def _parse_env(pairs: Sequence[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError("--env: expected KEY=VALUE (an entry has no '='; not echoed, it may be a secret)")
        result[key] = value
    return result


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def cmd_plan(cfg: AzureMLConfig, yaml_dir: str | None = None) -> int:
    from .plan import build_plan, resource_paths, rest_bodies, yaml_specs

    plan = build_plan(cfg)
    if yaml_dir:
        import yaml

        folder = Path(yaml_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for kind, spec in yaml_specs(plan).items():
            (folder / f"{kind}.yml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
            print(f"wrote {folder / f'{kind}.yml'}", file=sys.stderr)
    bodies = rest_bodies(plan, cfg.location or DRY_RUN_LOCATION)
    paths = resource_paths(cfg)
    steps = [
        {"step": step, "method": "PUT", "path": paths[step], "body": body}
        for step, body in bodies.items()
        if body is not None
    ]
    _print_json(steps)
    return 0


def invoke_payload(texts: Sequence[str], query: str | None = None, top_n: int | None = None,
                   kind: str | None = None, input_type: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The request ``invoke`` sends: embeddings of ``texts``, with ``query`` a rerank of them (a reranker, or a
    multi-vector model by MaxSim), ``kind`` ``multivector`` their token vectors, ``classify`` their labels,
    ``sparse`` their sparse vectors (TEI's ``/embed_sparse`` body)."""
    kind = kind or ("rerank" if query is not None else "embedding")
    if query is not None and kind not in ("rerank", "multivector"):
        raise ValueError(f"--query ranks documents: a reranker or a multi-vector model, not --kind {kind}")
    if input_type is not None and (kind != "multivector" or query is not None):
        raise ValueError("--input-type is for --kind multivector without --query (token vectors)")
    if query is None:
        if top_n is not None:
            raise ValueError("--top-n needs --query (a reranker)")
        if kind == "rerank":
            raise ValueError("--kind rerank needs --query (the documents are the --text texts)")
        if kind == "sparse":
            return {"inputs": list(texts) or ["Hello from Azure ML"]}
        payload: dict[str, Any] = {"input": list(texts) or ["Hello from Azure ML"]}
        if input_type is not None:
            payload["input_type"] = input_type
        return payload
    if not query.strip():
        raise ValueError("--query is empty")
    if not texts:
        raise ValueError("--query needs documents to rank: give them with --text")
    payload = {"query": query, "documents": list(texts)}
    if top_n is not None:
        payload["top_n"] = top_n
    return payload


def _summarise_rerank(response: dict[str, Any]) -> dict[str, Any]:
    results = [r for r in response.get("results", []) if isinstance(r, dict)]
    return {
        "model": response.get("model"),
        "results": len(results),
        "ranking": [{"index": r.get("index"), "relevance_score": r.get("relevance_score")} for r in results],
        "usage": response.get("usage"),
    }


def _summarise_multivector(response: dict[str, Any], data: list[dict[str, Any]]) -> dict[str, Any]:
    """Per input, its token count and width (the token vectors themselves: ``--raw``)."""
    inputs = []
    for item in data:
        vectors = item.get("embeddings")
        first = vectors[0] if isinstance(vectors, list) and vectors else None
        inputs.append({"index": item.get("index"), "tokens": len(vectors) if isinstance(vectors, list) else None,
                       "dimensions": len(first) if isinstance(first, list) else None})  # fmt: skip
    return {"model": response.get("model"), "multi_vector": inputs, "usage": response.get("usage")}


def _summarise_classify(response: dict[str, Any], data: list[dict[str, Any]]) -> dict[str, Any]:
    """Per input, the best label and its score (every label's score: ``--raw``)."""
    predictions = [{"index": d.get("index"), "prediction": d.get("prediction"), "score": d.get("score")} for d in data]
    return {"classifications": predictions, "usage": response.get("usage")}


def _is_sparse(response: Any) -> bool:
    """TEI's sparse answer: per input, a list of its nonzero ``{"index", "value"}`` entries."""
    return isinstance(response, list) and bool(response) and all(
        isinstance(entries, list) and all(isinstance(e, dict) and {"index", "value"} <= e.keys() for e in entries)
        for entries in response
    )


def _summarise_sparse(response: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Per input, its count of nonzero entries and its largest one (every entry: ``--raw``)."""
    inputs = []
    for index, entries in enumerate(response):
        top = max(entries, key=lambda e: e["value"], default=None)
        inputs.append({"index": index, "nonzero": len(entries), "top": top})
    return {"sparse": inputs}


def _summarise(response: Any) -> dict[str, Any]:
    if isinstance(response, dict) and "results" in response:
        return _summarise_rerank(response)
    if _is_sparse(response):
        return _summarise_sparse(response)
    data = response.get("data", []) if isinstance(response, dict) else []
    items = [item for item in data if isinstance(item, dict)]
    if items and all("embeddings" in item for item in items):
        return _summarise_multivector(response, items)
    if items and all("prediction" in item for item in items):
        return _summarise_classify(response, items)
    first = data[0].get("embedding") if data and isinstance(data[0], dict) else None
    return {
        "model": response.get("model") if isinstance(response, dict) else None,
        "embeddings": len(data),
        "dimensions": len(first) if isinstance(first, list) else None,
        "usage": response.get("usage") if isinstance(response, dict) else None,
    }


def run(args: argparse.Namespace) -> int:
    """Execute one parsed command; Azure calls go through ``apply`` (imported lazily)."""
    cfg = load_config(args)
    if args.command == "plan" or (args.command == "deploy" and args.dry_run):
        assert isinstance(cfg, AzureMLConfig)
        return cmd_plan(cfg, getattr(args, "yaml_dir", None))
    if args.command == "delete" and not args.yes and not _confirm(cfg, args.deployment_only):
        print("aborted", file=sys.stderr)
        return 2

    from . import apply

    def log(msg: str) -> None:
        print(msg, file=sys.stderr)

    # The SDK prints progress (dots, "Check: ...") to stdout; keep stdout for our JSON only.
    with contextlib.redirect_stdout(sys.stderr):
        client = apply.make_client(cfg)
        result = _call(apply, client, cfg, args, log)
    _print_json(result)
    return 0


def _call(apply: Any, client: Any, cfg: AzureMLTarget, args: argparse.Namespace, log: Any) -> Any:
    """Run the Azure-side command; returns JSON-able data for stdout."""
    if args.command == "deploy":
        from .plan import build_plan

        assert isinstance(cfg, AzureMLConfig)
        if args.endpoint_only:
            endpoint = apply.ensure_endpoint(client, build_plan(cfg), log=log)
            identity = getattr(endpoint, "identity", None)
            return {
                "endpoint_name": endpoint.name,
                "principal_id": getattr(identity, "principal_id", None),
                "scoring_uri": endpoint.scoring_uri,
            }
        return apply.deploy(client, build_plan(cfg), log=log).__dict__
    if args.command == "status":
        state = apply.status(client, cfg)
        if args.logs:
            state["logs"] = apply.logs(client, cfg, args.logs)
        return state
    if args.command == "invoke":
        if args.file:
            payload = json.loads(Path(args.file).read_text(encoding="utf-8"))
        else:
            payload = invoke_payload(args.text, args.query, args.top_n, args.kind, args.input_type)
        response = apply.invoke(client, cfg, payload, deployment=args.deployment)
        return response if args.raw else _summarise(response)
    deleted = apply.delete(client, cfg, deployment_only=args.deployment_only, log=log)
    return {"deleted": deleted}


def _confirm(cfg: AzureMLTarget, deployment_only: bool) -> bool:
    what = f"deployment {cfg.deployment_name} of" if deployment_only else "endpoint (and all deployments)"
    if not sys.stdin.isatty():
        print("refusing to delete without --yes on a non-interactive stdin", file=sys.stderr)
        return False
    answer = input(f"Delete {what} {cfg.endpoint_name} in {cfg.workspace}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(lambda: run(args), "azure.", "azure error")  # HttpResponseError and SDK errors


if __name__ == "__main__":
    sys.exit(main())
