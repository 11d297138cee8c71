"""The process that copies the model from ``AIP_STORAGE_URI`` while the server's workers already answer (503
until it is done): ``python -m inference.runtime.copy_process URI DEST --status FILE``, started by the gunicorn
master (staging.py). The copy itself is ``inference.storage_copy``; this is its entry point, with the workers'
JSON log lines. It always exits 0: the outcome is in the status file."""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from dataclasses import replace
from pathlib import Path

from ..api.request_log import configure_logging
from ..storage_copy import FAILED, NICENESS, CopyStatus, Reporter, copy_storage_model

log = logging.getLogger("inference.storage_copy")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m inference.runtime.copy_process",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("uri", help="gs://bucket/prefix")
    parser.add_argument("dest", type=Path, help="local folder (emptied first)")
    parser.add_argument("--status", type=Path, required=True, help="JSON status file")
    parser.add_argument("--progress-s", type=float, default=10.0, help="seconds between progress log lines")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    os.nice(NICENESS)
    configure_logging(args.log_level)
    reporter = Reporter(args.status, args.progress_s, os.getppid())
    threading.Thread(target=reporter.keep_current, name="status", daemon=True).start()
    started = time.monotonic()
    try:
        status = copy_storage_model(args.uri, args.dest, reporter)
    except Exception as err:  # noqa: BLE001 - any failure: the status file says so, the server stays up (503)
        last = reporter.last or CopyStatus(args.uri)
        reporter.finish(replace(last, state=FAILED, error=f"{type(err).__name__}: {err}"))
        log.error("AIP_STORAGE_URI=%s: the model could not be copied (%s): %s: %s", args.uri, last.progress(),
                  type(err).__name__, err)  # fmt: skip
        return
    reporter.finish(status)
    log.info("AIP_STORAGE_URI=%s: copied to %s in %.1f s, %s", args.uri, status.model_dir,
             time.monotonic() - started, status.progress())  # fmt: skip


if __name__ == "__main__":
    main()
