"""Cache key names that keep one owner's keys together on a Redis Cluster.

A Redis Cluster spreads keys over 16,384 hash slots, and a Lua script may
only touch keys of one slot. A name's slot comes from its hash tag, the text
between the first ``{`` and the next ``}``, when there is one. So every key
that belongs to an owner (a client IP, an API key, a session, a looked-up
identifier) carries that owner's tag, and the keys counted together for one
owner are in one slot, counted by one script, atomically.

The tag is ``{gh<n>}`` with ``n`` one of ``SHARDS`` shards, chosen by a keyed
digest of the owner (nothing of the owner is readable in Redis). Shards, not
one tag per owner, so state that must cover *every* owner can be written
per shard next to them: the "revocation marks are complete" key
(``protection.sessions.revocation``) exists once per shard, in the same slot
as the marks it vouches for, so a node that loses its data loses both.

On one Redis or behind Sentinel there is no slot to share: names carry no
tag (``owned_key`` returns the name as given), so the keys of a deployment
that moves to this version keep their names.

For the gate: build every key a request counts or reads with
``owned_key(name, owner=...)`` (the owner as the limiter's ``Hit.ident``
spells it: the client IP, the key's public id, ``str(session_id)``), and
global state with ``global_key(name)``.
"""

import functools
import zlib

from django.conf import settings
from django.core.cache import caches
from django.core.signals import setting_changed

from protection.base import crypto
from protection.base.processstate import process_state_register
from protection.conf import gatehouse_settings
from protection.core.rediscache import redis_mode

__all__ = [
    "GLOBAL_TAG",
    "SHARDS",
    "cluster_keys",
    "global_key",
    "owned_key",
    "owner_shard",
    "owner_tag",
    "shard_tags",
]

SHARDS = 1024
GLOBAL_TAG = "{gh:global}"


def cluster_keys() -> bool:
    """Whether the shared cache is a Redis Cluster (key names then carry tags).

    Asked several times a request: answered once per process (and again
    after the cache settings change), not through ``caches[…]`` each time.
    """
    global _cluster
    if _cluster is None:
        cache = caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]
        _cluster = redis_mode(cache) == "cluster"
    return _cluster


_cluster: bool | None = None


def _cluster_forget() -> None:
    global _cluster
    _cluster = None


def _cache_settings_changed(*, setting: str, **kwargs: object) -> None:
    if setting in ("CACHES", "RATELIMIT_USE_CACHE"):
        _cluster_forget()


process_state_register("keyspace.cluster", _cluster_forget)
setting_changed.connect(_cache_settings_changed, dispatch_uid="gatehouse.keyspace")


def owner_shard(owner: object) -> int:
    """The shard (0 to SHARDS - 1) of ``owner``: a keyed digest, never the owner itself."""
    return _owner_shard(str(owner), gatehouse_settings.SIGNING_KEY)


@functools.lru_cache(maxsize=8192)
def _owner_shard(owner: str, signing_key: str) -> int:
    # Memoised on the signing key too, so a new one takes effect at once.
    digest = crypto.keyed_digest(owner, purpose="keyspace")
    return zlib.crc32(bytes.fromhex(digest[:16])) % SHARDS


def _tag(shard: int) -> str:
    return "{gh" + str(shard) + "}"


def owner_tag(owner: object) -> str:
    """``{gh<n>}`` for ``owner`` on a cluster, "" otherwise."""
    return _tag(owner_shard(owner)) if cluster_keys() else ""


def owned_key(name: str, *, owner: object) -> str:
    """``name`` placed in ``owner``'s slot on a cluster (``name`` as given elsewhere)."""
    if "{" in name or "}" in name:
        raise ValueError("a key name must not contain braces: the tag is added here")
    return name + owner_tag(owner)


def global_key(name: str) -> str:
    """``name`` for state of the whole deployment (one slot on a cluster)."""
    if "{" in name or "}" in name:
        raise ValueError("a key name must not contain braces: the tag is added here")
    return name + GLOBAL_TAG if cluster_keys() else name


def shard_tags() -> list[str]:
    """Every shard's tag on a cluster; [""] otherwise (one keyspace)."""
    return [_tag(shard) for shard in range(SHARDS)] if cluster_keys() else [""]


def shard_of_tag(tag: str) -> int:
    """The shard number written in a tag from ``shard_tags`` (0 for "")."""
    return int(tag[3:-1]) if tag else 0
