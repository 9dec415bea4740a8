"""How suspicious a client or a key looks lately: cheap shared-cache counters.

- ``denials_observe`` listens to ``event_recorded`` and counts every denial
  per client IP (IPv6 by /64), per API key and per device (the request's, as
  the gate names it in the event scope: an attested id, a DPoP key, a
  claimed id); ``recent_denials`` reads them back ("denials in the last
  DENIALS_WINDOW seconds", two fixed windows, one cache read) for adaptive
  challenge difficulty. ``denial_reads`` / ``denials_from`` do the same
  inside the request's one round trip (the gate reads the keys, this module
  adds them up), for the challenge ladder's risk.
- ``key_difficulty_boost`` / ``key_difficulty_boost_raise``: the extra
  difficulty a key under attack gets from the automatic-blocking rules.
- ``dpop_seen_count`` / ``dpop_seen_key``: how many sessions a DPoP key
  started (within CHALLENGE_DPOP_MEMORY), counted by ``dpop_seen_tally``.

Every call goes through the one cache circuit breaker: with the cache down,
counting is skipped and reads answer 0 at once. Inside a request, counting
rides the request's one round trip (``count_soon``). Counter keys are keyed
digests: opaque, bounded.
"""

import datetime
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from protection.base import crypto
from protection.base.clientip import rate_limit_ident
from protection.conf import gatehouse_settings
from protection.core.cachehealth import shared_cache_call
from protection.core.events import event_scope_current
from protection.core.keyspace import owned_key
from protection.core.ratelimit import Tally, count_soon

KEY_BOOST_CACHE_PREFIX = "gh:keyboost:"


def _denial_subjects(
    *, client_ip: str | None, api_key: Any, device: str | None = None
) -> list[str]:
    subjects = []
    if client_ip:
        # IPv6 clients count per /64, like the rate limits: one subscriber.
        subjects.append("ip:" + rate_limit_ident(client_ip))
    public_id = getattr(api_key, "public_id", None)
    if public_id is None and isinstance(api_key, str):
        public_id = api_key
    if public_id:
        subjects.append("key:" + public_id)
    if device:
        subjects.append("device:" + device)
    return subjects


def _denial_cache_key(subject: str, bucket: int) -> str:
    name = f"gh:denials:{crypto.keyed_digest(subject, purpose='denials')[:32]}:{bucket}"
    return owned_key(name, owner=subject)


def denials_count(
    *,
    client_ip: str | None,
    api_key: Any,
    device: str | None = None,
    now: datetime.datetime | None = None,
) -> None:
    """Count one denial of ``client_ip``, of ``api_key`` and of ``device`` (with the
    request's round trip, inside one)."""
    window = int(gatehouse_settings.DENIALS_WINDOW)
    bucket = int((now or timezone.now()).timestamp()) // window
    tallies = [
        Tally(_denial_cache_key(subject, bucket), 2 * window)
        for subject in _denial_subjects(client_ip=client_ip, api_key=api_key, device=device)
    ]
    if tallies:
        count_soon(tallies, lambda results: None)


def denials_observe(sender: Any, event: Any, **kwargs: Any) -> None:
    """``event_recorded`` receiver: count every denial (and the request's device's)."""
    if event.decision == "deny":
        scope = event_scope_current()
        denials_count(
            client_ip=event.client_ip,
            api_key=event.api_key,
            device=scope.device_subject if scope is not None else None,
            now=event.created_at,
        )


def recent_denials(
    *,
    client_ip: str | None = None,
    api_key: Any = None,
    window: int | None = None,
    now: datetime.datetime | None = None,
) -> int:
    """Return how many requests of ``client_ip`` and/or ``api_key`` were denied lately.

    Counts over roughly the last ``DENIALS_WINDOW`` seconds (the current and the
    previous fixed window, the previous one weighted by how much of it still
    overlaps). With both subjects given, their counts are added. Counters are
    kept per ``DENIALS_WINDOW``, so ``window`` may only restate that value.
    Returns 0 when the cache is unavailable.
    """
    size = int(gatehouse_settings.DENIALS_WINDOW)
    if window is not None and int(window) != size:
        raise ValueError(f"recent_denials counts over DENIALS_WINDOW ({size}s) only")
    timestamp = (now or timezone.now()).timestamp()
    bucket = int(timestamp) // size
    previous_weight = 1 - (timestamp - bucket * size) / size
    keys = []
    for subject in _denial_subjects(client_ip=client_ip, api_key=api_key):
        keys += [_denial_cache_key(subject, bucket), _denial_cache_key(subject, bucket - 1)]
    if not keys:
        return 0
    counts = shared_cache_call(lambda: cache.get_many(keys), None)
    if counts is None:
        return 0
    total = 0.0
    for current_key, previous_key in zip(keys[::2], keys[1::2], strict=True):
        total += int(counts.get(current_key, 0))
        total += previous_weight * int(counts.get(previous_key, 0))
    return round(total)


def key_difficulty_boost(api_key: Any) -> int:
    """Extra challenge difficulty for ``api_key`` (ApiKey or public id): 0 when calm.

    Cache key ``gh:keyboost:<public_id>`` holds the level while a per-key rule
    is crossed; challenge issuance adds it (bounded) to the key's difficulty.
    """
    public_id = getattr(api_key, "public_id", api_key)
    if not public_id:
        return 0
    level = shared_cache_call(lambda: cache.get(KEY_BOOST_CACHE_PREFIX + str(public_id)), None)
    return int(level or 0)


def key_difficulty_boost_raise(*, public_id: str, amount: int, duration: int) -> int:
    """Raise the key's boost by ``amount`` for ``duration`` seconds; return the new level."""
    ceiling = int(gatehouse_settings.KEY_DIFFICULTY_BOOST_MAX)
    level = min(ceiling, key_difficulty_boost(public_id) + int(amount))
    cache_key = KEY_BOOST_CACHE_PREFIX + public_id
    shared_cache_call(lambda: cache.set(cache_key, level, timeout=int(duration)), None)
    return level


# --- Read inside the request's round trip (the challenge ladder) ------------------


def _denial_buckets(now: datetime.datetime | None) -> tuple[int, float]:
    size = int(gatehouse_settings.DENIALS_WINDOW)
    timestamp = (now or timezone.now()).timestamp()
    bucket = int(timestamp) // size
    return bucket, 1 - (timestamp - bucket * size) / size


def denial_reads(
    *,
    client_ip: str | None = None,
    api_key: Any = None,
    device: str | None = None,
    now: datetime.datetime | None = None,
) -> dict[str, list[str]]:
    """The cache keys holding the recent denials of each subject given:
    ``{"ip": [current, previous], "key": [...], "device": [...]}``."""
    bucket, _weight = _denial_buckets(now)
    reads: dict[str, list[str]] = {}
    for name, subject in (
        ("ip", _denial_subjects(client_ip=client_ip, api_key=None)),
        ("key", _denial_subjects(client_ip=None, api_key=api_key)),
        ("device", _denial_subjects(client_ip=None, api_key=None, device=device)),
    ):
        if subject:
            reads[name] = [
                _denial_cache_key(subject[0], bucket),
                _denial_cache_key(subject[0], bucket - 1),
            ]
    return reads


def _count(value: bytes | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def denials_from(
    keys: list[str], values: dict[str, bytes | None], *, now: datetime.datetime | None = None
) -> int:
    """The recent denials that the two keys of ``denial_reads`` hold, from the values
    a round trip read (as ``recent_denials`` weighs them; 0 when unread)."""
    _bucket, previous_weight = _denial_buckets(now)
    current, previous = keys
    return round(_count(values.get(current)) + previous_weight * _count(values.get(previous)))


def key_boost_key(api_key: Any) -> str:
    """The cache key of ``key_difficulty_boost`` for ``api_key`` (to read it in a round trip)."""
    return KEY_BOOST_CACHE_PREFIX + str(getattr(api_key, "public_id", api_key))


def count_value(value: bytes | None) -> int:
    """A counter's value as a round trip read it (0 for absent or unreadable)."""
    return _count(value)


DPOP_SEEN_PREFIX = "gh:dpopseen:"


def dpop_seen_key(jkt: str) -> str:
    """The cache key counting the sessions a DPoP key (its thumbprint) started."""
    name = DPOP_SEEN_PREFIX + crypto.keyed_digest(jkt, purpose="dpop-seen")[:32]
    return owned_key(name, owner="dpop:" + jkt)


def dpop_seen_tally(jkt: str) -> None:
    """Count one session started by DPoP key ``jkt`` (with the request's round trip)."""
    memory = int(gatehouse_settings.CHALLENGE_DPOP_MEMORY)
    count_soon([Tally(dpop_seen_key(jkt), memory)], lambda results: None)
