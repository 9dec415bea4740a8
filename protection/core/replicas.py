"""Read replicas: which database answers a read that may be a little stale.

``DATABASE_REPLICA_URLS`` (``config.settings``) adds the aliases
``replica_0``, ``replica_1``…: PostgreSQL streaming standbys of the primary
(``default``). ``PrimaryRouter`` sends every read and every write to the
primary, except reads made inside ``replica_read``, which go to a replica:
only selectors whose answer may lag behind the primary by up to
``DATABASE_REPLICA_MAX_LAG`` seconds use it (the lookup's "does this person
exist"). Sessions, revocation, blocks, keys and every write stay on the
primary, where a revocation or a block is seen at once.

A replica is used only while it answers and is caught up: each process
measures a replica's lag at most every ``DATABASE_REPLICA_CHECK_INTERVAL``
seconds (one small query on the replica). One that fails, or lags beyond
``DATABASE_REPLICA_MAX_LAG``, is skipped until the next check, and a read
that fails on a replica is read again on the primary, so a replica that
stops costs no request. Either writes a ``replica_unavailable`` alert, at
most once a minute per process.
"""

import contextvars
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.db import DatabaseError, connections

from protection.base.processstate import process_state_register
from protection.conf import gatehouse_settings
from protection.core.events import event_record
from protection.core.metrics import metrics_database_read

__all__ = ["PrimaryRouter", "replica_aliases", "replica_read", "replica_read_alias"]

logger = logging.getLogger("gatehouse.replicas")

PRIMARY = "default"
ALERT_INTERVAL = 60.0
T = TypeVar("T")

# Seconds the replica's replay is behind; 0 when it has replayed all it received.
_LAG_SQL = """
SELECT CASE
  WHEN NOT pg_is_in_recovery() THEN 0
  WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
  ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
END
"""

_reading_from: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "gatehouse_replica_read", default=None
)


class _Health:
    def __init__(self) -> None:
        self.checked: dict[str, tuple[float, bool]] = {}  # alias: (monotonic time, usable)
        self.last_alert = -ALERT_INTERVAL
        self.turn = itertools.count()
        self.lock = threading.Lock()

    def reset(self) -> None:
        with self.lock:
            self.checked.clear()
            self.last_alert = -ALERT_INTERVAL


_health = _Health()
process_state_register("replica health", _health.reset)


def replica_aliases() -> list[str]:
    """The replica database aliases of this deployment (``replica_<n>``)."""
    return [alias for alias in settings.DATABASES if alias.startswith("replica_")]


def _alert(alias: str, reason: str, **details: Any) -> None:
    now = time.monotonic()
    with _health.lock:
        if now - _health.last_alert < ALERT_INTERVAL:
            return
        _health.last_alert = now
    logger.warning("Replica %s skipped: %s", alias, reason)
    try:
        event_record(
            kind="replica_unavailable",
            decision="alert",
            reason=reason,
            details={"replica": alias, **details},
        )
    except Exception:  # the audit log must not fail the read it explains
        logger.exception("Could not record the replica alert")


def _close(alias: str) -> None:
    try:
        connections[alias].close()
    except Exception:  # a broken connection may fail to close: it is dropped anyway
        logger.debug("Closing %s failed", alias, exc_info=True)


def _mark(alias: str, usable: bool) -> None:
    with _health.lock:
        _health.checked[alias] = (time.monotonic(), usable)


def _measure(alias: str) -> bool:
    connection = connections[alias]
    try:
        if connection.vendor != "postgresql":
            return True
        with connection.cursor() as cursor:
            cursor.execute(_LAG_SQL)
            lag = float(cursor.fetchone()[0] or 0)
    except DatabaseError as exc:
        _close(alias)
        _alert(alias, "down", error=type(exc).__name__)
        return False
    max_lag = float(gatehouse_settings.DATABASE_REPLICA_MAX_LAG)
    if lag > max_lag:
        _alert(alias, "lagging", lag=round(lag, 3), max_lag=max_lag)
        return False
    return True


def _usable(alias: str) -> bool:
    entry = _health.checked.get(alias)
    interval = float(gatehouse_settings.DATABASE_REPLICA_CHECK_INTERVAL)
    if entry is not None and time.monotonic() - entry[0] < interval:
        return entry[1]
    usable = _measure(alias)
    _mark(alias, usable)
    return usable


def replica_read_alias() -> str:
    """The alias a stale-tolerant read should use now: a healthy replica, else the primary."""
    if gatehouse_settings.LOOKUP_READS != "replica":
        return PRIMARY
    aliases = replica_aliases()
    if not aliases:
        return PRIMARY
    start = next(_health.turn)  # spread reads over the replicas
    for offset in range(len(aliases)):
        alias = aliases[(start + offset) % len(aliases)]
        if _usable(alias):
            return alias
    return PRIMARY


def replica_read(read: Callable[[], T]) -> T:
    """Run ``read`` (ORM reads only) on a replica if one is usable, else on the primary.

    A replica that fails during the read is marked down and the read runs
    again on the primary: the caller never sees the replica's failure.
    """
    alias = replica_read_alias()
    if alias != PRIMARY:
        token = _reading_from.set(alias)
        try:
            answer = read()
        except DatabaseError as exc:
            _close(alias)
            _mark(alias, False)
            _alert(alias, "down", error=type(exc).__name__)
        else:
            metrics_database_read("replica")
            return answer
        finally:
            _reading_from.reset(token)
    metrics_database_read("primary")
    return read()


class PrimaryRouter:
    """Every read and write on the primary, except reads inside ``replica_read``."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return _reading_from.get() or PRIMARY

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # every alias holds the same data

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == PRIMARY  # replicas replay the primary's schema
