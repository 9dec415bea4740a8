"""Per-process copies of shared data, reloaded when the shared version changes.

The block list and the network-origin data live in the database (the
truth); each process compiles its own copy and must learn, cheaply, when
another process or host changed it. Both keep a **version** (an integer) in
the database, written in the transaction that changes the data, and
published to the shared cache after commit:

- with a shared cache (Redis), a process reads the cached version at most
  every ``check_interval()`` seconds, or takes it from a request's own round
  trip (``observe``), and reloads when it differs; it also asks the database
  at least every ``max_age()`` seconds, in case a publication was lost;
- without one (the local-memory cache of ``make run``, where each process
  has its own cache and a published version reaches nobody, or while Redis is
  down) it asks the database at most every ``db_check_interval()`` seconds:
  one indexed one-row query.

Subclasses say where the version and the data are (``stored_version``,
``load``) and which settings pace them. A reload never blocks a thread that
already has a copy: while one thread reloads, the others keep serving the
previous copy.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from django.conf import settings
from django.core.cache import cache

from protection.core.cachehealth import cache_failed, cache_health

logger = logging.getLogger("gatehouse.versions")

T = TypeVar("T")

# Caches whose values each process keeps to itself: a version published
# there reaches no other process.
PER_PROCESS_CACHES = frozenset(
    {
        "django.core.cache.backends.locmem.LocMemCache",
        "django.core.cache.backends.dummy.DummyCache",
    }
)


def shared_cache_configured() -> bool:
    """Whether the default cache is shared between processes (Redis, Memcached…)."""
    return settings.CACHES.get("default", {}).get("BACKEND", "") not in PER_PROCESS_CACHES


def version_publish(cache_key: str, version: int) -> None:
    """Put ``version`` in the shared cache (after the change committed)."""
    try:
        # An integer: stored as is (not pickled), so a Lua GET reads it back.
        cache.set(cache_key, int(version), timeout=None)
    except Exception:  # processes still learn it from the database (max age)
        logger.warning("Could not publish version of %s", cache_key, exc_info=True)


class VersionedRegistry(Generic[T]):
    """This process's copy of one kind of shared data (see the module docstring)."""

    cache_key = ""
    name = ""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.data: T | None = None
        self.version: int | None = None
        self.checked_at = 0.0  # last version check, of any kind
        # checked_at + check_interval(), so the hot path reads no setting.
        self.next_check_at = 0.0
        self.db_checked_at = 0.0  # last time the database was asked
        self.lock = threading.Lock()

    # --- what a subclass provides -------------------------------------------

    def check_interval(self) -> float:
        raise NotImplementedError

    def db_check_interval(self) -> float:
        raise NotImplementedError

    def max_age(self) -> float:
        raise NotImplementedError

    def stored_version(self) -> int:
        """The version in the database (0 when there is none yet)."""
        raise NotImplementedError

    def load(self, version: int) -> T:
        """Read and compile the data of ``version`` from the database."""
        raise NotImplementedError

    def empty(self) -> T:
        """What to serve when nothing could be loaded (database down at start)."""
        raise NotImplementedError

    def checked(self) -> None:
        """Called after each version check (a subclass refreshes what it derives
        from settings there, so its hot path reads none)."""

    def version_of(self, data: T, requested: int) -> int:
        """The version ``data`` really is (``load`` may fall back to another one)."""
        return requested

    # --- the protocol ---------------------------------------------------------

    def invalidate(self) -> None:
        """Reload on the next use (this process changed the data)."""
        self.data = None

    def reset(self) -> None:
        """Forget everything (tests; a forked worker)."""
        self.data = None
        self.version = None
        self.checked_at = self.next_check_at = self.db_checked_at = 0.0

    def current(self) -> T:
        """The data, after a version check if one is due."""
        now = self.clock()
        data = self.data
        if data is not None and now < self.next_check_at:
            return data
        # Without a copy, wait for the thread that loads one; with one, never wait.
        if not self.lock.acquire(blocking=data is None):
            return data  # type: ignore[return-value]
        try:
            if self.data is not None and now < self.next_check_at:
                return self.data
            self._checking(now)
            version = self._shared_version()
            if version is None:  # no shared cache: the database, at a bounded rate
                due = now - self.db_checked_at >= self.db_check_interval()
                if self.data is not None and not due:
                    return self.data
                version = self._database_version(now)
            elif now - self.db_checked_at >= self.max_age():
                # A publication may have been lost: the database has the last word.
                version = self._database_version(now, default=version)
            if self.data is None or version != self.version:
                self._reload(version)
            return self.data  # type: ignore[return-value]
        finally:
            self.lock.release()

    def observe(self, raw: object) -> bool:
        """Take the version read in a request's own cache round trip.

        Reloads at once when it differs from the loaded one (so a change
        applies to the request that learned of it) and counts as this
        interval's check. Returns True when the data was reloaded. Without a
        shared cache the value says nothing about other processes and is
        ignored (``current`` asks the database).
        """
        if raw is None or not shared_cache_configured():
            return False
        try:
            version = int(raw)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return False  # unreadable: the periodic check decides
        now = self.clock()
        with self.lock:
            self._checking(now)
            if now - self.db_checked_at >= self.max_age():
                version = self._database_version(now, default=version)
            if self.data is not None and version == self.version:
                return False
            self._reload(version)
            return True

    # --- internals ------------------------------------------------------------

    def _checking(self, now: float) -> None:
        self.checked_at = now
        self.next_check_at = now + self.check_interval()
        self.checked()

    def _shared_version(self) -> int | None:
        """The cached version, or None when there is no usable shared cache."""
        if not shared_cache_configured() or cache_health.is_down(time.monotonic()):
            return None
        try:
            value = cache.get(self.cache_key)
            if value is None:  # evicted or flushed: the database says, and the cache learns
                value = self._database_version(self.clock())
                cache.add(self.cache_key, value, timeout=None)
            return int(value)
        except Exception as exc:  # a slow cache then costs one timeout, not one per check
            cache_failed(exc)
            return None

    def _database_version(self, now: float, default: int | None = None) -> int:
        self.db_checked_at = now
        try:
            return self.stored_version()
        except Exception:  # database down: keep what we have
            logger.warning("Could not read the %s version", self.name, exc_info=True)
            if default is not None:
                return default
            return self.version if self.version is not None else 0

    def _reload(self, version: int) -> None:
        try:
            data = self.load(version)
        except Exception:  # database down: keep the last copy rather than fail every request
            logger.warning("Could not reload the %s", self.name, exc_info=True)
            if self.data is None:
                self.data = self.empty()
            return
        self.data = data
        self.version = self.version_of(data, version)
