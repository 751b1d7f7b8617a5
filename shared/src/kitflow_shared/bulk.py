"""Helpers for bulk work inside a service process (a file import of thousands of rows)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0
_we_disabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while the block runs.

    A bulk import holds tens of thousands of live objects (rows, needs, events) and allocates
    many more; each of the collector's full passes walks all of them, which measured a quarter
    of a 10,000-row import's CPU time. Objects freed by reference counting (nearly all of them)
    are still freed at once; only reference cycles wait until the collector runs again, so the
    extra memory is bounded by what the block creates.

    Nested and concurrent blocks (threads included) share one pause: the collector comes back
    when the last of them ends, and only if it was running before the first began."""
    global _pauses, _we_disabled
    with _lock:
        if _pauses == 0:
            _we_disabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _we_disabled:
                gc.enable()
                _we_disabled = False
