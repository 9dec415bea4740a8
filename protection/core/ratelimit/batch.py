"""On Redis: every counter of one request step in one round trip (one Lua script).

django-ratelimit's ``get_usage`` costs three round trips per counter with
Django's ``RedisCache`` (``SET NX``, then ``EXISTS`` + ``INCR`` inside
``incr``), and every cache call builds a new redis-py client object. A
protected lookup counts about six counters, so that was ~20 round trips per
request. Here the same buckets (django-ratelimit's own ``_make_cache_key``
and ``_get_window``, the same TTL, computed in ``counters``) are counted by
one script: ``INCR`` that sets the TTL on a bucket's first hit, and for
"distinct" counters a ``SET NX EX`` of the member first. The script runs
atomically on the server, so N workers still admit exactly ``limit`` hits;
both paths read and write the same keys and can run side by side. Two more
operations serve the counters that count only what succeeded (identity
velocity): a conditional increment (only while the count stays within the
limit) and its refund (a ``DECR``, never below 0).

``RATE_LIMIT_BATCH`` (on by default) selects this path; off, or with any
cache that has no raw Redis client behind it
(``protection.core.rediscache.raw_redis``), counting goes through
``get_usage``. On a Redis Cluster the keys of one call may live in several
hash slots: ``slots`` sends one script per slot, all in one pipeline.
"""

import weakref
from collections.abc import Sequence
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import caches

from protection.conf import gatehouse_settings
from protection.core.rediscache import raw_redis

# ARGV[1]: -1 = count every counter; n >= 0 = once a counter is over its
# limit, count none after the first n (as with checks made one after the
# other, where a refusal ends the request). ARGV[2]: how many KEYS to read
# first (GET, "" when absent): state the request needs from the same round
# trip (a session's revocation mark, the block-list version). Then per
# counter: op ("i" increment, "p" peek, "d" distinct member first, "c" claim:
# SET NX, count 1 when this call set it, else 2, over its limit of 1; "u"
# conditional increment: only if the count stays within the limit, else
# report limit + 1 and change nothing; "r" refund: DECR unless at 0), ttl,
# limit and, for "d", the member's ttl. KEYS: the keys to read, then per
# counter its key, preceded for "d" by the member key. Returns the values
# read, then the count of every counter evaluated, in order, then one flag
# per counter ("1": this call incremented or claimed it, what a cluster's
# undo takes back; a refund is never taken back).
_COUNT_SCRIPT = """
local always = tonumber(ARGV[1])
local reads = tonumber(ARGV[2])
local refused = false
local counts = {}
local changed = {}
for r = 1, reads do counts[r] = redis.call('GET', KEYS[r]) or '' end
local k, a = reads + 1, 3
while a <= #ARGV do
  if refused and always >= 0 and #counts - reads >= always then break end
  local op, ttl, limit = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  a = a + 3
  local increment = op == 'i'
  if op == 'd' then
    increment = redis.call('SET', KEYS[k], '1', 'NX', 'EX', ARGV[a]) ~= false
    k, a = k + 1, a + 1
  end
  local count
  local flag = '1'
  if op == 'c' then
    if redis.call('SET', KEYS[k], '1', 'NX', 'EX', ttl) then count = 1 else count, flag = 2, '0' end
  elseif op == 'r' then
    count, flag = tonumber(redis.call('GET', KEYS[k]) or '0'), '0'
    if count > 0 then count = redis.call('DECR', KEYS[k]) end
  elseif op == 'u' and tonumber(redis.call('GET', KEYS[k]) or '0') >= limit then
    count, flag = limit + 1, '0'
  elseif increment or op == 'u' then
    count = redis.call('INCR', KEYS[k])
    if count == 1 then redis.call('EXPIRE', KEYS[k], ttl) end
  else
    count, flag = tonumber(redis.call('GET', KEYS[k]) or '0'), '0'
  end
  k = k + 1
  counts[#counts + 1] = count
  changed[#changed + 1] = flag
  if count > limit then refused = true end
end
counts[#counts + 1] = table.concat(changed)
return counts
"""


class Step(NamedTuple):
    """One counter for the script; keys are cache keys before the cache's prefix."""

    key: str
    ttl: int
    limit: int
    increment: bool = True
    member_key: str | None = None  # distinct: count only if this member is new
    member_ttl: int = 0
    claim: bool = False  # SET NX: 1 if this call claimed the key, 2 if it was taken
    conditional: bool = False  # increment only while within the limit
    refund: bool = False  # DECR, never below 0 (limit: never refuses)


# One registered script per redis-py client (the client is the process's,
# from ``protection.core.rediscache.raw_redis``).
_scripts: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()


def redis_cache() -> Any:
    """The rate-limit cache if a raw Redis client is behind it (any topology), else None."""
    cache = caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]
    return cache if raw_redis(cache) is not None else None


def batch_available() -> bool:
    """True when ``RATE_LIMIT_BATCH`` is on and the rate-limit cache is Redis.

    On a Redis Cluster the script path is the only one (``get_usage``'s key
    names cannot carry a hash tag), whatever ``RATE_LIMIT_BATCH`` says.
    """
    raw = raw_redis(caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")])
    if raw is None:
        return False
    return bool(gatehouse_settings.RATE_LIMIT_BATCH) or raw.cluster


def script_for(client: Any) -> Any:
    script = _scripts.get(client)
    if script is None:
        script = _scripts[client] = client.register_script(_COUNT_SCRIPT)
    return script


def script_call(
    cache: Any, reads: Sequence[str], steps: Sequence[Step], always: int
) -> tuple[list[str], list[Any]]:
    """The script's (keys, args) for ``reads`` and ``steps``, keys with the cache's prefix."""
    keys: list[str] = [cache.make_key(key) for key in reads]
    args: list[Any] = [always, len(reads)]
    # make_key, not make_and_validate_key: the keys are ours (prefixes and hex
    # digests), and the memcached-safety scan of every character was a tenth
    # of a call's cost.
    for step in steps:
        if step.member_key is not None:
            keys.append(cache.make_key(step.member_key))
            args += ["d", step.ttl, step.limit, step.member_ttl]
        elif step.claim:
            args += ["c", step.ttl, 1]
        elif step.refund:
            args += ["r", step.ttl, step.limit]
        elif step.conditional:
            args += ["u", step.ttl, step.limit]
        else:
            args += ["i" if step.increment else "p", step.ttl, step.limit]
        keys.append(cache.make_key(step.key))
    return keys, args


def redis_count(
    cache: Any,
    steps: Sequence[Step],
    *,
    stop_at_refusal: bool,
    always_count: int = 0,
    reads: Sequence[str] = (),
) -> tuple[list[bytes], list[int]]:
    """Read ``reads`` then count ``steps``: one script call (one per slot on a cluster).

    Returns the raw values read (``b""`` when absent) and the counts of the
    steps evaluated: with ``stop_at_refusal`` the list ends at the first count
    over its limit, or after the first ``always_count`` steps if that is
    later. Raises whatever the Redis client raises.
    """
    raw = raw_redis(cache)
    if raw is None:
        raise TypeError("redis_count needs a Redis cache")
    if raw.cluster:
        from protection.core.ratelimit.slots import cluster_count

        return cluster_count(
            cache, raw.client, steps, stop_at_refusal=stop_at_refusal,
            always_count=always_count, reads=reads,
        )  # fmt: skip
    keys, args = script_call(cache, reads, steps, always_count if stop_at_refusal else -1)
    client = raw.client
    answer = script_for(client)(keys=keys, args=args, client=client)
    return list(answer[: len(reads)]), [int(count) for count in answer[len(reads) : -1]]
