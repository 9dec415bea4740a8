"""System checks of the Redis and PostgreSQL topologies (docs/topologies.md).

- protection.E180: the Redis cache's URL does not parse for its mode (the
  same parser as ``config.settings`` and the cache client,
  ``protection.base.redisurl``), or the mode is unknown.
- protection.E181: a Redis Cluster with a cache key prefix
  (``KEY_PREFIX``, ``RATELIMIT_CACHE_PREFIX``) holding ``{`` or ``}``: a brace
  in the prefix would become every key's hash tag, one slot for everything.
- protection.E182: ``LOOKUP_READS`` is neither "replica" nor "primary".
- protection.E183: ``DATABASE_REPLICA_MAX_LAG`` or
  ``DATABASE_REPLICA_CHECK_INTERVAL`` is not a positive number.
- protection.W180: ``RATE_LIMIT_BATCH = False`` on a Redis Cluster: ignored,
  the script is the only counting path there.
- protection.W181: read replicas configured without
  ``protection.core.replicas.PrimaryRouter`` in ``DATABASE_ROUTERS``: the
  lookup cannot reach them, and nothing keeps other reads off them.
"""

from typing import Any

from django.conf import settings
from django.core import checks

from protection.base.redisurl import RedisUrlError, redis_url_parse
from protection.conf import gatehouse_settings
from protection.core.replicas import replica_aliases

TOPOLOGY_BACKEND = "protection.core.rediscache.GatehouseRedisCache"


def _redis_cache_messages(config: dict[str, Any]) -> list[checks.CheckMessage]:
    options = config.get("OPTIONS", {}) or {}
    mode = options.get("mode", "single")
    location = config.get("LOCATION", "")
    if isinstance(location, list | tuple):
        location = ",".join(location)
    try:
        redis_url_parse(str(location), mode=mode, service=options.get("service", ""))
    except RedisUrlError as exc:
        return [
            checks.Error(
                f"The Redis cache's LOCATION is not a {mode} URL: {exc}.",
                hint="Set REDIS_URL (and GATEHOUSE_REDIS_MODE) as docs/topologies.md shows.",
                id="protection.E180",
            )
        ]
    if mode != "cluster":
        return []
    messages: list[checks.CheckMessage] = []
    prefixes = [config.get("KEY_PREFIX", ""), getattr(settings, "RATELIMIT_CACHE_PREFIX", "rl:")]
    if any("{" in str(prefix) or "}" in str(prefix) for prefix in prefixes):
        messages.append(
            checks.Error(
                "A cache key prefix holds a brace: on a Redis Cluster it would be every "
                "key's hash tag, putting every key in one slot.",
                hint="Use a prefix without { or } (GATEHOUSE_CACHE_PREFIX).",
                id="protection.E181",
            )
        )
    if not gatehouse_settings.RATE_LIMIT_BATCH:
        messages.append(
            checks.Warning(
                "RATE_LIMIT_BATCH is off, but on a Redis Cluster counters are always "
                "counted by the script (django-ratelimit's own key names carry no hash tag).",
                hint="Remove RATE_LIMIT_BATCH = False.",
                id="protection.W180",
            )
        )
    return messages


@checks.register(checks.Tags.caches)
def check_redis_topology(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    for config in settings.CACHES.values():
        if config.get("BACKEND") == TOPOLOGY_BACKEND:
            messages += _redis_cache_messages(config)
    return messages


@checks.register(checks.Tags.database)
def check_replicas(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    if gatehouse_settings.LOOKUP_READS not in ("replica", "primary"):
        messages.append(
            checks.Error(
                f"GATEHOUSE LOOKUP_READS is {gatehouse_settings.LOOKUP_READS!r}.",
                hint='Use "replica" or "primary".',
                id="protection.E182",
            )
        )
    for name in ("DATABASE_REPLICA_MAX_LAG", "DATABASE_REPLICA_CHECK_INTERVAL"):
        value = getattr(gatehouse_settings, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            messages.append(
                checks.Error(
                    f"GATEHOUSE {name} must be a positive number of seconds, not {value!r}.",
                    id="protection.E183",
                )
            )
    replicas = replica_aliases()
    router = "protection.core.replicas.PrimaryRouter"
    if replicas and router not in getattr(settings, "DATABASE_ROUTERS", []):
        messages.append(
            checks.Warning(
                f"Read replicas ({', '.join(replicas)}) without {router} in DATABASE_ROUTERS.",
                hint=f"Add {router} to DATABASE_ROUTERS.",
                id="protection.W181",
            )
        )
    return messages
