"""Session state on the hot path: revocation marks in the shared cache.

PostgreSQL is the truth (``AnonymousSession.revoked_at``). Every revocation
also writes a mark ``gh:session:revoked:<id>`` to the shared cache, so a
request learns whether its session is revoked in the round trip it already
makes to count its limits (``session_state_reads`` names the keys to read,
``session_state_judge`` reads them), instead of a database query.

The marks can be trusted only while the cache holds all of them. The key
``gh:sessions:marks`` says so: ``sessions_marks_rebuild`` writes it after
copying every live revocation from the database into the cache. When it is
missing (Redis restarted, was flushed or failed over, or it aged out after
``SESSION_MARKS_MAX_AGE``) or the cache cannot be read, the state is
"unknown" and the caller reads the database (``session_active_in_db``)
until a rebuild (started by the first request that notices) restores it.
A mark that could not be written (cache down at that moment, or no replica
acknowledged it: a failover could lose it) is retried by
the process (at its next revocation, rebuild, or request once the cache
answers again), and the marks key is dropped so no process trusts a cache
that lacks it.

On a Redis Cluster (``protection.core.keyspace``) a mark carries its
session's hash tag, and the "complete" key exists once per shard, in the
same slot as the marks it vouches for: a node that loses its data (restart,
failover) loses the marks and the key that vouched for them together, so
the loss is noticed as on one Redis. A request reads its session's mark and
its shard's key in one script, next to its session's counters.
"""

import datetime
import logging
import threading
import uuid

from django.core.cache import cache, caches
from django.utils import timezone

from protection.base.exceptions import ProtectionError
from protection.base.processstate import process_state_register
from protection.conf import gatehouse_settings
from protection.core.cachehealth import cache_health, shared_cache_call
from protection.core.keyspace import owner_tag, shard_tags
from protection.core.rediscache import raw_redis, redis_set_replicated
from protection.sessions.models import AnonymousSession

logger = logging.getLogger("gatehouse.sessions")

MARK_PREFIX = "gh:session:revoked:"
MARKS_COMPLETE_KEY = "gh:sessions:marks"
_REBUILD_LOCK_KEY = "gh:sessions:marks:rebuilding"

REVOKED, ACTIVE, UNKNOWN = "revoked", "active", "unknown"

_unpublished: set[tuple[str, int]] = set()
_unpublished_lock = threading.Lock()


def _unpublished_reset() -> None:
    with _unpublished_lock:
        _unpublished.clear()


process_state_register("unpublished revocations", _unpublished_reset)


def _mark_key(session_id: object) -> str:
    # The session's tag (cluster only): its mark shares its counters' slot.
    return f"{MARK_PREFIX}{session_id}{owner_tag(session_id)}"


def _complete_key(session_id: object) -> str:
    return MARKS_COMPLETE_KEY + owner_tag(session_id)


def session_state_reads(session_id: object) -> list[str]:
    """The cache keys a request reads (with its counters) to learn the session's state.

    None with a cache that is not Redis shared by every process (the
    local-memory cache of the embedded mode): a mark written by one process
    would be unseen by another, so the database answers there.
    """
    if raw_redis(caches["default"]) is None:
        return []
    if _unpublished:
        _retry_unpublished()
    return [_mark_key(session_id), _complete_key(session_id)]


def session_state_judge(session_id: object, values: dict[str, bytes | None]) -> str:
    """``revoked``, ``active`` or ``unknown`` (read the database) from what was read."""
    mark = values.get(_mark_key(session_id))
    complete = values.get(_complete_key(session_id))
    if mark is None or complete is None:  # the cache could not be read
        return UNKNOWN
    if mark:
        return REVOKED
    if not complete:
        sessions_marks_rebuild_soon()
        return UNKNOWN
    return ACTIVE


def _write_mark(session_id: str, ttl: int) -> bool:
    # Acknowledged by a replica (when there is one): a mark lost in a
    # failover while the "complete" key survived would let a revoked session
    # through. Unacknowledged counts as unwritten: retried, and the shard's
    # "complete" key dropped meanwhile.
    def write() -> bool:
        return redis_set_replicated(caches["default"], _mark_key(session_id), 1, ttl)

    return shared_cache_call(write, False)


def session_revocation_publish(*, session_id: object, expires_at: datetime.datetime) -> None:
    """Write the revocation mark (called once the revocation has committed)."""
    ttl = max(1, int((expires_at - timezone.now()).total_seconds()) + 60)
    _retry_unpublished()
    if not _write_mark(str(session_id), ttl):
        with _unpublished_lock:
            _unpublished.add((str(session_id), ttl))
        # Whoever can still reach the cache must stop trusting it.
        shared_cache_call(lambda: cache.delete(_complete_key(session_id)), None)
        logger.warning("Could not publish the revocation of session %s; will retry", session_id)


def _retry_unpublished() -> None:
    if not _unpublished or cache_health.is_down():
        return
    with _unpublished_lock:
        pending = list(_unpublished)
    for session_id, ttl in pending:
        if _write_mark(session_id, ttl):
            with _unpublished_lock:
                _unpublished.discard((session_id, ttl))


def sessions_marks_rebuild(*, now: datetime.datetime | None = None) -> int:
    """Copy every live revocation into the cache, then trust it; return how many marks."""
    now = now or timezone.now()
    _retry_unpublished()
    live = AnonymousSession.objects.filter(revoked_at__isnull=False, expires_at__gt=now)
    lifetime = int(gatehouse_settings.SESSION_LIFETIME) + 60
    marks = {_mark_key(session_id): 1 for session_id in live.values_list("pk", flat=True)}
    batch = list(marks.items())
    for start in range(0, len(batch), 1000):
        cache.set_many(dict(batch[start : start + 1000]), timeout=lifetime)
    if _unpublished:  # a revocation this process could not write: not complete yet
        return len(marks)
    complete = {MARKS_COMPLETE_KEY + tag: 1 for tag in shard_tags()}
    cache.set_many(complete, timeout=int(gatehouse_settings.SESSION_MARKS_MAX_AGE))
    return len(marks)


def sessions_marks_rebuild_soon() -> None:
    """Rebuild the marks unless another process is doing it (best effort, never raises)."""

    if not shared_cache_call(lambda: cache.add(_REBUILD_LOCK_KEY, 1, timeout=30), False):
        return  # another process is rebuilding, or the cache is down
    try:
        sessions_marks_rebuild()
    except Exception:  # the database answers meanwhile; the next request tries again
        logger.warning("Could not rebuild the session revocation marks", exc_info=True)
    finally:
        shared_cache_call(lambda: cache.delete(_REBUILD_LOCK_KEY), None)


def session_active_in_db(*, session_id: uuid.UUID, now: datetime.datetime | None = None) -> None:
    """Raise ``session_revoked`` / ``session_expired`` / ``token_invalid`` from the database."""
    row = (
        AnonymousSession.objects.filter(pk=session_id)
        .values_list("revoked_at", "expires_at")
        .first()
    )
    if row is None:
        raise ProtectionError("token_invalid")
    revoked_at, expires_at = row
    if revoked_at is not None:
        raise ProtectionError("session_revoked")
    if expires_at <= (now or timezone.now()):
        raise ProtectionError("session_expired")
