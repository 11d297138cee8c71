"""The gunicorn worker class: gthread with a bounded wait for a request thread (admission.py), protocol-level
error responses in JSON like every other error, and an error log that keeps no client bytes."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from .admission import AdmissionPool
from .log_filter import redact_client_bytes
from .protocol_errors import Capture, json_error_page


class AdmissionWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no type information
    """As many requests may wait for a thread as run; past that they are shed (503) at once."""

    def init_process(self) -> None:
        logging.getLogger("gunicorn.error").addFilter(redact_client_bytes)
        super().init_process()

    def get_thread_pool(self) -> AdmissionPool:
        return AdmissionPool(self.cfg.threads, max_waiting=self.cfg.threads)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        capture = Capture(client)
        super().handle_error(req, capture, addr, exc)
        if not capture.data:
            return
        try:
            util.write_nonblock(client, json_error_page(capture.data))
        except Exception:  # noqa: BLE001 - the client may be gone; gunicorn ignores this too
            self.log.debug("Failed to send error message.")
