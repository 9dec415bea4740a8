"""Key changes reach every worker at the next request: a keys version in the shared cache.

Every saved or deleted ``ApiKey`` (a revocation, a rotation, an edit, a new
key) publishes a new version token ``gh:keys:version`` once its transaction
has committed. Every protected request reads it in the round trip it
already makes for its limits (``keys_version_reads``); the gate hands the
value to ``keys_version.observe``. When it differs from what this process
saw last, the process drops its cached keys (and reloads the known public
ids at the next miss) and the
request's own key is read again from the database
(``protection.keys.verify.api_key_recheck``), so a revoked key is refused on
its next request on every worker and host, with no database read on the
requests in between. A key revoked while it was cached answered for up to a
second before (119-259 requests admitted after the commit).

The database stays the truth: a version that cannot be read (cache down)
leaves the one-second cache in charge, as before; a version that vanished
(Redis restarted or flushed) reads as a change, so it costs a reload, never
a missed revocation.
"""

import logging
import secrets
import threading
from typing import Any

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from protection.base.processstate import process_state_register
from protection.core.cachehealth import shared_cache_call
from protection.keys.cache import known_public_ids, verified_keys
from protection.keys.models import ApiKey

logger = logging.getLogger("gatehouse.keys")

KEYS_VERSION_KEY = "gh:keys:version"


def keys_version_reads() -> list[str]:
    """The cache keys a request reads with its counters (none on a per-process cache,
    where the process that changes a key forgets it itself)."""
    if not isinstance(caches["default"], RedisCache):
        return []
    return [KEYS_VERSION_KEY]


def keys_version_bump() -> None:
    """Publish a new keys version (best effort: the one-second cache still bounds it)."""

    def publish() -> bool:
        # An integer: stored as is (not pickled), so the Lua GET reads it back.
        cache.set(KEYS_VERSION_KEY, secrets.randbits(62), timeout=None)
        return True

    if not shared_cache_call(publish, False):
        logger.warning("Could not publish the keys version; workers see the change within 1 s")


class KeysVersion:
    """What this process last read of the version, and how often it dropped its keys."""

    def __init__(self) -> None:
        self.seen: bytes | None = None
        # Bumps each time the cached keys are dropped: a request compares the
        # value it saw when its key was verified with the one after its round trip.
        self.generation = 0
        self._lock = threading.Lock()

    def observe(self, value: bytes | None) -> None:
        """Take the version a request read (None: unreadable, nothing learned)."""
        if value is None or value == self.seen:
            return
        with self._lock:
            if value == self.seen:
                return
            self.seen = value
            self.generation += 1
            verified_keys.clear()
            known_public_ids.expire()

    def reset(self) -> None:
        with self._lock:
            self.seen = None
            self.generation += 1


keys_version = KeysVersion()
process_state_register("keys version", keys_version.reset)


def _changed(sender: type, instance: ApiKey, **kwargs: Any) -> None:
    # After the commit: a process that reloads on the new version must find the change.
    transaction.on_commit(keys_version_bump)


post_save.connect(_changed, sender=ApiKey, dispatch_uid="gatehouse_keys_version_save")
post_delete.connect(_changed, sender=ApiKey, dispatch_uid="gatehouse_keys_version_delete")
