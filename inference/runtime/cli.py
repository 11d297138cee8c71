"""The ``embed-serve`` command (and ``python -m inference``): settings from the environment, a few command-line
overrides validated the same way, then the gunicorn server."""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError

from ..access.keys import KeyFileError, KeyRing
from ..settings import Settings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="embed-serve", description="Serve embeddings over HTTP (gunicorn).")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "export-onnx"],
                        help="serve (SageMaker passes it), or export-onnx: write the model's ONNX package for CPU "
                        "workers (docs/performance/cpu.md#cpu-backends)")  # fmt: skip
    parser.add_argument("--into", choices=["model", "cache"], default="model",
                        help="export-onnx: into the model folder (embed-serving-onnx/) or EMB_ONNX_CACHE_DIR")
    parser.add_argument("--model-dir", type=Path, help="model folder (else MODEL_DIR, AZUREML_MODEL_DIR, ...)")
    parser.add_argument("--port", type=int, help="listen port (else SAGEMAKER_BIND_TO_PORT / AIP_HTTP_PORT / EMB_PORT)")
    parser.add_argument("--host", help="bind address (else EMB_HOST / 0.0.0.0)")
    parser.add_argument("--workers", type=int, help="gunicorn workers")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    """The environment's settings with the given options applied; an invalid value exits with a message."""
    overrides = {k: v for k, v in vars(args).items() if k not in ("command", "into") and v is not None}
    try:
        return Settings().with_overrides(**overrides)
    except ValidationError as err:
        first = err.errors()[0]
        raise SystemExit(f"embed-serve: invalid option {first['loc'][0]}: {first['msg']}") from None


def check_keys(settings: Settings) -> None:
    """A key file that cannot be read or parsed stops the server before it starts (later, a bad edit is logged
    and the keys in force stay)."""
    try:
        KeyRing.from_settings(settings.api_key, settings.api_keys_file)
    except KeyFileError as err:
        raise SystemExit(f"embed-serve: EMB_API_KEYS_FILE {err}") from None


def export_onnx(settings: Settings, into: str) -> None:
    """Export each served model's ONNX package; prints one line per model. A failed export exits 1."""
    import logging

    from ..handlers.onnx_pack import export_served

    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    try:
        results = export_served(settings, "cache" if into == "cache" else "model")
    except Exception as exc:  # noqa: BLE001 - the operator gets one line, not a traceback
        raise SystemExit(f"embed-serve export-onnx: {type(exc).__name__}: {exc}") from None
    for result in results:
        print(f"{result.folder}: {result.reason}" + (f" -> {result.package}" if result.package else ""))


def main(argv: list[str] | None = None) -> None:
    from .server import EmbeddingServer

    args = parse_args(argv)
    settings = settings_from(args)
    if args.command == "export-onnx":
        export_onnx(settings, args.into)
        return
    check_keys(settings)
    EmbeddingServer(settings).run()


if __name__ == "__main__":
    main()
