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
both paths read and write the same keys and can run side by side.

``RATE_LIMIT_BATCH`` (on by default) selects this path; off, or with any
cache that is not Django's ``RedisCache``, counting goes through
``get_usage``.
"""

import weakref
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from protection.conf import gatehouse_settings

# ARGV[1]: -1 = count every counter; n >= 0 = once a counter is over its
# limit, count none after the first n (as with checks made one after the
# other, where a refusal ends the request). ARGV[2]: how many KEYS to read
# first (GET, "" when absent): state the request needs from the same round
# trip (a session's revocation mark, the block-list version). Then per
# counter: op ("i" increment, "p" peek, "d" distinct member first, "c" claim:
# SET NX, count 1 when this call set it, else 2, over its limit of 1), ttl,
# limit and, for "d", the member's ttl. KEYS: the keys to read, then per
# counter its key, preceded for "d" by the member key. Returns the values
# read, then the count of every counter evaluated, in order.
_COUNT_SCRIPT = """
local always = tonumber(ARGV[1])
local reads = tonumber(ARGV[2])
local refused = false
local counts = {}
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
  if op == 'c' then
    if redis.call('SET', KEYS[k], '1', 'NX', 'EX', ttl) then count = 1 else count = 2 end
  elseif increment then
    count = redis.call('INCR', KEYS[k])
    if count == 1 then redis.call('EXPIRE', KEYS[k], ttl) end
  else
    count = tonumber(redis.call('GET', KEYS[k]) or '0')
  end
  k = k + 1
  counts[#counts + 1] = count
  if count > limit then refused = true end
end
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


# One redis-py client (and registered script) per cache backend: Django's
# RedisCache builds a new client object, ~170 dict writes, on every call.
_clients: "weakref.WeakKeyDictionary[Any, tuple[Any, Any]]" = weakref.WeakKeyDictionary()


def redis_cache() -> RedisCache | None:
    """The rate-limit cache if it is Django's ``RedisCache``, else None."""
    cache = caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]
    return cache if isinstance(cache, RedisCache) else None


def batch_available() -> bool:
    """True when ``RATE_LIMIT_BATCH`` is on and the rate-limit cache is Redis."""
    return bool(gatehouse_settings.RATE_LIMIT_BATCH) and redis_cache() is not None


def _client_and_script(cache: RedisCache) -> tuple[Any, Any]:
    # Django's private client wrapper (not in the type stubs): the one way to
    # reuse its connection pool for a registered script.
    backend = cast(Any, cache)._cache
    entry = _clients.get(backend)
    if entry is None:
        client = backend.get_client(None, write=True)
        entry = _clients[backend] = (client, client.register_script(_COUNT_SCRIPT))
    return entry


def redis_count(
    cache: RedisCache,
    steps: Sequence[Step],
    *,
    stop_at_refusal: bool,
    always_count: int = 0,
    reads: Sequence[str] = (),
) -> tuple[list[bytes], list[int]]:
    """Read ``reads`` then count ``steps``, in one script call.

    Returns the raw values read (``b""`` when absent) and the counts of the
    steps evaluated: with ``stop_at_refusal`` the list ends at the first count
    over its limit, or after the first ``always_count`` steps if that is
    later. Raises whatever the Redis client raises.
    """
    keys: list[str] = [cache.make_key(key) for key in reads]
    args: list[Any] = [always_count if stop_at_refusal else -1, len(reads)]
    # make_key, not make_and_validate_key: the keys are ours (prefixes and hex
    # digests), and the memcached-safety scan of every character was a tenth
    # of a call's cost.
    for step in steps:
        if step.member_key is not None:
            keys.append(cache.make_key(step.member_key))
            args += ["d", step.ttl, step.limit, step.member_ttl]
        elif step.claim:
            args += ["c", step.ttl, 1]
        else:
            args += ["i" if step.increment else "p", step.ttl, step.limit]
        keys.append(cache.make_key(step.key))
    client, script = _client_and_script(cache)
    answer = script(keys=keys, args=args, client=client)
    return list(answer[: len(reads)]), [int(count) for count in answer[len(reads) :]]
