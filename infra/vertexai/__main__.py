"""CLI: ``python -m infra.vertexai {plan,deploy,traffic,scale,undeploy,status,delete} --config FILE [flags]``.

Settings come from ``--config`` (JSON, see ``deploy.example.json``) with flags winning; ``project`` and ``region``
also default to ``GOOGLE_CLOUD_PROJECT`` and ``GOOGLE_CLOUD_REGION``. ``plan`` (and ``deploy --dry-run``) prints the
exact request messages as JSON and calls nothing (no credential needed). Credentials: Application Default
Credentials (``gcloud auth application-default login``, a service account, workload identity).
Exit codes: 0 ok, 1 Google API error, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from ..config_file import layered, read_json_object, run_cli
from .config import VertexConfig, VertexTarget

FULL_CONFIG_COMMANDS = ("plan", "deploy", "scale")
ENV_DEFAULTS = {"project": "GOOGLE_CLOUD_PROJECT", "region": "GOOGLE_CLOUD_REGION"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra.vertexai", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {
        "plan": "print the requests deploy would send (no API calls)",
        "deploy": "upload model, create endpoint if missing, deploy with traffic_percent",
        "traffic": "give --deployed-model-name PERCENT of the traffic (the others share the rest)",
        "scale": "apply the config's replica bounds and autoscaling targets in place",
        "undeploy": "undeploy --deployed-model-name (refused while it has traffic, unless --force)",
        "status": "endpoint, traffic split and deployed models",
        "delete": "undeploy all, delete the endpoint and its models",
    }
    for name, help_text in commands.items():
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--config", help="JSON config file (infra/vertexai/deploy.example.json)")
        for flag in ("project", "region", "endpoint_id", "deployed_model_name"):
            cmd.add_argument("--" + flag.replace("_", "-"), dest=flag, default=None)
        if name in ("plan", "deploy"):
            cmd.add_argument("--image", default=None)
            cmd.add_argument("--model-id", dest="model_id", default=None)
            cmd.add_argument("--traffic-percent", dest="traffic_percent", type=int, default=None)
        if name == "deploy":
            cmd.add_argument("--dry-run", action="store_true", help="same as plan")
        if name == "traffic":
            cmd.add_argument("percent", type=int)
        if name == "undeploy":
            cmd.add_argument("--force", action="store_true", help="undeploy even while it serves traffic")
        if name == "delete":
            cmd.add_argument("--keep-models", action="store_true", help="delete only the endpoint")
            cmd.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


def load_config(args: argparse.Namespace) -> VertexTarget:
    """VertexConfig for plan/deploy/scale, VertexTarget otherwise; flags > file > environment variables."""
    flags = ("project", "region", "endpoint_id", "deployed_model_name", "image", "model_id", "traffic_percent")
    data = layered(read_json_object(args.config) if args.config else {}, ENV_DEFAULTS,
                   {f: getattr(args, f, None) for f in flags})  # fmt: skip
    kind = VertexConfig if args.command in FULL_CONFIG_COMMANDS else VertexTarget
    return kind.model_validate(data)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def run(args: argparse.Namespace, clients: Any = None) -> int:
    """Execute one parsed command; API calls go through ``apply`` (imported lazily). ``clients``: for tests."""
    cfg = load_config(args)
    if args.command == "plan" or (args.command == "deploy" and args.dry_run):
        from .plan import plan_steps

        assert isinstance(cfg, VertexConfig)
        _print_json(plan_steps(cfg))
        return 0
    if args.command == "delete" and not args.yes:
        print("refusing to delete without --yes", file=sys.stderr)
        return 2
    from . import apply

    def log(msg: str) -> None:
        print(msg, file=sys.stderr)

    clients = clients or apply.make_clients(cfg)
    result: Any
    if args.command == "deploy":
        assert isinstance(cfg, VertexConfig)
        result = apply.deploy(clients, cfg, log=log).__dict__
    elif args.command == "traffic":
        result = {"traffic": apply.set_traffic(clients, cfg, args.percent, log=log)}
    elif args.command == "scale":
        assert isinstance(cfg, VertexConfig)
        result = {"deployed_model_id": apply.scale(clients, cfg, log=log)}
    elif args.command == "undeploy":
        result = {"undeployed": apply.undeploy(clients, cfg, force=args.force, log=log)}
    elif args.command == "status":
        result = apply.status(clients, cfg)
    else:
        result = {"deleted": apply.delete(clients, cfg, keep_models=args.keep_models, log=log)}
    _print_json(result)
    return 0


def main(argv: Sequence[str] | None = None, clients: Any = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(lambda: run(args, clients), "google.", "google api error")  # GoogleAPICallError etc.


if __name__ == "__main__":
    sys.exit(main())
