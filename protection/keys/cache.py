"""The per-process cache of looked-up keys that keeps verification off the database.

Entries live at most ``API_KEY_CACHE_TTL`` seconds (capped at one second), so
an edit made by any process is seen by every process within a second
without any cross-process invalidation; a revocation or expiry is seen at
the next request's round trip (``protection.keys.version``). Only the stored
hash is kept, never a secret.

Unknown public ids cost no query either: ``known_public_ids`` holds every
public id there is (one query loads them all, at most once per
``API_KEY_CACHE_TTL`` when an id is missing from it, and again when the keys
version changes). A random unknown id used to cost a query where a known id
with a wrong secret was answered from the cache: 1.2-1.6 ms apart, enough to
tell which public ids exist. Both now cost the same. A key created by
another process is accepted here within that same second.
"""

import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from django.db.models.signals import post_delete, post_save

from protection.base.processstate import process_state_register
from protection.conf import gatehouse_settings
from protection.keys.models import ApiKey

MAX_TTL = 1.0  # the revocation promise: never serve a key older than this


class CachedKey(NamedTuple):
    api_key: ApiKey | None  # None: no key has this public id
    loaded_at: float


class VerifiedKeyCache:
    """A small dict keyed by public id; ``clock`` is replaceable in tests."""

    clock: Callable[[], float] = staticmethod(time.monotonic)
    max_entries = 10_000  # bounds memory when someone sprays random public ids

    def __init__(self) -> None:
        self._entries: dict[str, CachedKey] = {}
        self._lock = threading.Lock()

    def ttl(self) -> float:
        return max(0.0, min(float(gatehouse_settings.API_KEY_CACHE_TTL), MAX_TTL))

    def get(self, public_id: str) -> CachedKey | None:
        """Return the fresh entry for ``public_id``, or None on a miss."""
        entry = self._entries.get(public_id)
        if entry is None:
            return None
        if self.clock() - entry.loaded_at >= self.ttl():
            self._entries.pop(public_id, None)
            return None
        return entry

    def put(self, public_id: str, api_key: ApiKey | None) -> None:
        if self.ttl() <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[public_id] = CachedKey(api_key, self.clock())

    def forget(self, public_id: str) -> None:
        self._entries.pop(public_id, None)

    def clear(self) -> None:
        self._entries.clear()


verified_keys = VerifiedKeyCache()
process_state_register("verified keys", verified_keys.clear)


class KnownPublicIds:
    """Every public id in the database, per process (the negative cache); its clock
    is ``verified_keys``'."""

    def __init__(self) -> None:
        self.ids: frozenset[str] | None = None
        self.loaded_at = 0.0
        self._lock = threading.Lock()

    def may_exist(self, public_id: str) -> bool:
        """False when no key has ``public_id`` (reloading the ids first when they are
        older than ``API_KEY_CACHE_TTL``); True when one may have it."""
        ids = self.ids
        if ids is not None and public_id in ids:
            return True
        if ids is not None and verified_keys.clock() - self.loaded_at < verified_keys.ttl():
            return False
        with self._lock:
            loaded = frozenset(ApiKey.objects.values_list("public_id", flat=True))
            self.ids, self.loaded_at = loaded, verified_keys.clock()
        return public_id in loaded

    def add(self, public_id: str) -> None:
        with self._lock:
            if self.ids is not None:
                self.ids = self.ids | {public_id}

    def expire(self) -> None:
        """Reload on the next id missing from it (a key may have been created)."""
        self.loaded_at = float("-inf")

    def clear(self) -> None:
        with self._lock:
            self.ids = None


known_public_ids = KnownPublicIds()
process_state_register("known key public ids", known_public_ids.clear)


def _forget_saved_key(sender: type, instance: ApiKey, **kwargs: object) -> None:
    # Saves outside the services (shell, fixtures) still reach this process at once.
    verified_keys.forget(instance.public_id)
    if kwargs.get("signal") is post_delete:
        known_public_ids.clear()
    else:
        known_public_ids.add(instance.public_id)


post_save.connect(_forget_saved_key, sender=ApiKey, dispatch_uid="gatehouse_keys_cache_save")
post_delete.connect(_forget_saved_key, sender=ApiKey, dispatch_uid="gatehouse_keys_cache_delete")
