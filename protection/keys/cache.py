"""The per-process cache of looked-up keys that keeps verification off the database.

Entries live at most ``API_KEY_CACHE_TTL`` seconds (capped at one second), so
a revocation, expiry or edit made by any process is seen by every process
within a second without any cross-process invalidation. Unknown public ids
are cached too, so a known id with a wrong secret and an unknown id cost the
same work. Only the stored hash is kept, never a secret.
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


def _forget_saved_key(sender: type, instance: ApiKey, **kwargs: object) -> None:
    # Saves outside the services (shell, fixtures) still reach this process at once.
    verified_keys.forget(instance.public_id)


post_save.connect(_forget_saved_key, sender=ApiKey, dispatch_uid="gatehouse_keys_cache_save")
post_delete.connect(_forget_saved_key, sender=ApiKey, dispatch_uid="gatehouse_keys_cache_delete")
