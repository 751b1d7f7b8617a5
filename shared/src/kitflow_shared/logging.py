"""JSON logs that carry the correlation and causation ids of the work in progress.

The ids live in context variables: an HTTP request sets them from its headers (or a new id), a
consumer sets them from the event it is handling, and every log line written meanwhile carries
them, so one `correlation_id` follows a plan from the coordinator's click to the delivery.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)
causation_id_var: ContextVar[str | None] = ContextVar("causation_id", default=None)


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.correlation_id = correlation_id_var.get()
        record.causation_id = causation_id_var.get()
        # uvicorn adds an ANSI-coloured copy of some messages; JSON readers don't want it.
        record.__dict__.pop("color_message", None)
        return True


@contextmanager
def log_context(correlation_id: str | None, causation_id: str | None = None) -> Iterator[None]:
    """Attach ids to every log line written inside the block."""
    c_token = correlation_id_var.set(correlation_id)
    k_token = causation_id_var.set(causation_id)
    try:
        yield
    finally:
        correlation_id_var.reset(c_token)
        causation_id_var.reset(k_token)


def configure_logging(service: str, level: str = "INFO", as_json: bool = True) -> None:
    """Route every logger (ours, uvicorn's, aiokafka's) through one handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter(service))
    if as_json:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s "
                "%(correlation_id)s %(causation_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                datefmt="%Y-%m-%dT%H:%M:%S%z",
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(service)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # aiokafka logs every rebalance and reconnect at INFO; keep it to warnings.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
