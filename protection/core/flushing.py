"""What a process holds in memory to write later is written when it idles and when it exits.

Under a flood, denials are added up in memory and written as counted rows
(``protection.core.events``), and hits on blocks are added up the same way.
Both were written only by the next request: a worker that went idle kept
them, and one that exited (a graceful reload with ``SIGHUP``, ``max_requests``
recycling) lost them: 296 of 3,000 denials across a reload, 105 with
recycling. Now:

- ``process_flusher_start()`` starts one daemon thread per process that
  writes whatever is due every ``EVENTS_FLUSH_INTERVAL`` seconds, requests
  or not (gunicorn's ``post_worker_init`` hook starts it);
- ``process_flush_all()`` writes everything pending now (gunicorn's
  ``worker_exit`` hook calls it; another server should call it as its
  worker exits).

Owners register what to flush with ``process_flush_register(label, flush,
due=...)``: the audit log registers its own; the edge adds block hits.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections

from protection.conf import gatehouse_settings

logger = logging.getLogger("gatehouse.flushing")


@dataclass(frozen=True)
class Flush:
    flush: Callable[[], int]  # write what is pending; return how many rows
    due: Callable[[], bool]  # whether the idle timer should call it now


FLUSHES: dict[str, Flush] = {}


def process_flush_register(
    label: str, flush: Callable[[], int], *, due: Callable[[], bool] | None = None
) -> None:
    """Have the idle timer (when ``due()`` says so) and the exit flush call ``flush``."""
    FLUSHES[label] = Flush(flush, due or (lambda: True))


def _run(only_due: bool) -> dict[str, int]:
    written = {}
    for label, entry in list(FLUSHES.items()):
        try:
            if not only_due or entry.due():
                written[label] = entry.flush()
        except Exception:  # one owner's failure must not keep the others' rows unwritten
            logger.exception("Could not flush %s", label)
    return written


def process_flush_all() -> dict[str, int]:
    """Write everything every owner holds now (the process is about to exit)."""
    return _run(only_due=False)


class _IdleFlusher(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="gatehouse-flusher", daemon=True)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(max(0.1, float(gatehouse_settings.EVENTS_FLUSH_INTERVAL) / 2)):
            written = _run(only_due=True)
            if any(written.values()):
                # This thread's own connection: not kept open between flushes.
                connections.close_all()


_flusher: _IdleFlusher | None = None
_flusher_lock = threading.Lock()


def process_flusher_start() -> bool:
    """Start this process's idle flusher (once); True if this call started it."""
    global _flusher
    with _flusher_lock:
        if _flusher is not None and _flusher.is_alive():
            return False
        _flusher = _IdleFlusher()
        _flusher.start()
        return True


def process_flusher_stop() -> None:
    global _flusher
    with _flusher_lock:
        if _flusher is not None:
            _flusher.stopped.set()
            _flusher = None
