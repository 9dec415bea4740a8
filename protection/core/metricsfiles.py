"""A dead process's metric files are folded into one archive per type, then removed.

In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) prometheus-client keeps
one file per process and metric type (``counter_<pid>.db``,
``histogram_<pid>.db``...) and a scrape adds them all up. Files of processes
that exited stayed until the next restart: two more per recycled worker
(``max_requests``) and per ``manage.py`` run, without bound. Removing them
would lose their counts (a counter going down reads as a reset), so
``metrics_process_exited(pid)`` adds each value of the dead process's files
to ``<type>_archive.db`` (raw values add up for counters, histograms and
summaries: the same sums a scrape makes) and removes the files; its "live"
gauges are dropped as before. gunicorn's ``child_exit`` hook calls it for
each worker, and every process calls it for itself at exit (``atexit``,
registered by ``protection.core.metrics``).

Standard library and prometheus-client only: the gunicorn master runs it
without Django.
"""

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import multiprocess
from prometheus_client.mmap_dict import MmapedDict

logger = logging.getLogger("gatehouse.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Types whose raw values add up across processes.
SUMMED_TYPES = ("counter", "histogram", "summary")
ARCHIVE = "archive"


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with open(directory / ".archive.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fold(directory: Path, kind: str, dead: Path) -> None:
    """Write ``<kind>_archive.db`` + ``dead`` to a new file, swap it in, drop ``dead``."""
    archive = directory / f"{kind}_{ARCHIVE}.db"
    totals: dict[str, tuple[float, float]] = {}
    sources = [archive, dead] if archive.exists() else [dead]
    for source in sources:
        for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(str(source)):
            total, _ = totals.get(key, (0.0, 0.0))
            totals[key] = (total + value, timestamp)
    fresh = directory / f".{kind}_{ARCHIVE}.db.new"  # not *.db: scrapes never read it
    fresh.unlink(missing_ok=True)
    merged = MmapedDict(str(fresh))
    try:
        for key, (value, timestamp) in totals.items():
            merged.write_value(key, value, timestamp)
    finally:
        merged.close()
    os.replace(fresh, archive)
    dead.unlink()


def metrics_process_exited(pid: int, *, directory: str | None = None) -> int:
    """Fold process ``pid``'s files into the archives and remove them; return how many.

    A no-op outside multiprocess mode, or when the files are gone already
    (the process folded its own at exit). Never raises: metrics bookkeeping
    must not break a worker's exit.
    """
    path = directory or os.environ.get(MULTIPROC_ENV)
    if not path or not os.path.isdir(path):
        return 0
    folder = Path(path)
    removed = 0
    try:
        with _locked(folder):
            for kind in SUMMED_TYPES:
                dead = folder / f"{kind}_{pid}.db"
                if dead.exists():
                    _fold(folder, kind, dead)
                    removed += 1
    except Exception:  # a broken file must not break an exit
        logger.warning("Could not fold the metric files of process %s", pid, exc_info=True)
    finally:
        multiprocess.mark_process_dead(pid, path)
    return removed
