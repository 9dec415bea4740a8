"""gunicorn settings for gatehouse: ``gunicorn -c config/gunicorn.conf.py config.wsgi``.

Only what metrics need; pass everything else (workers, bind) on the command
line or in GUNICORN_CMD_ARGS as before. With ``PROMETHEUS_MULTIPROC_DIR`` set,
every worker writes its metric values to files in that directory and any
worker serving ``/metrics`` adds them all up (protection.metrics):

- on start, stale files of a previous run are removed (their counters would
  otherwise be added to this run's);
- when a worker exits, its "live" gauges are dropped (``mark_process_dead``),
  so a dead worker's cache-fallback flag does not linger. Its counters stay:
  counts never go down.
"""

import os
from pathlib import Path
from typing import Any


def on_starting(server: Any) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for stale in Path(directory).glob("*.db"):
            stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
