"""Django's Redis cache on one Redis, behind Sentinel, or on a Redis Cluster.

``GatehouseRedisCache`` is Django's own ``RedisCache`` (same serializer:
integers stored as themselves, so a Lua ``GET`` reads a counter back; the
same key format) with a client that also speaks to Sentinel and Cluster
through redis-py's ``Sentinel`` and ``RedisCluster``. ``OPTIONS["mode"]``
picks the topology and ``LOCATION`` is a URL of ``protection.base.redisurl``.

- ``single``: exactly Django's client.
- ``sentinel``: every call goes to the primary the sentinels name
  (``master_for``). A connection that fails, or finds its server demoted
  (``READONLY``), asks the sentinels again on the next call: after a
  failover the new primary is found without a restart.
- ``cluster``: one ``RedisCluster`` per process (it keeps the slot map and a
  pool per node). Multi-key calls are split per slot (``get_many``,
  ``set_many``); ``clear`` flushes every primary. A node that fails makes
  the client reload the slot map on the next call.

Retries are kept short: a dead node must cost a request milliseconds, and
the breaker (``protection.core.cachehealth``) plus the documented fallback
answer meanwhile. ``raw_redis`` is the capability the limiter and the
revocation marks test for (a raw redis-py client behind the cache, and
whether it is a cluster), instead of the cache's class.
"""

import threading
import weakref
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, cast

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from protection.base.processstate import process_state_register
from protection.base.redisurl import RedisTarget, redis_url_parse

__all__ = ["GatehouseRedisCache", "RawRedis", "raw_redis", "redis_mode", "redis_set_replicated"]


def _short_retry() -> Any:
    from redis.backoff import ConstantBackoff
    from redis.retry import Retry

    return Retry(ConstantBackoff(0.02), retries=1)


class TopologyRedisCacheClient(RedisCacheClient):
    """Django's Redis cache client, for ``mode`` = single, sentinel or cluster."""

    # Set by Django's RedisCacheClient.__init__ (private, so not in django-stubs).
    _pool_options: dict[str, Any]
    _serializer: Any

    def __init__(
        self,
        servers: list[str],
        *,
        mode: str = "single",
        service: str = "",
        sentinel_password: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(servers, **options)
        self.target: RedisTarget = redis_url_parse(servers[0], mode=mode, service=service)
        if sentinel_password is not None:
            self.target = _with_sentinel_password(self.target, sentinel_password)
        target = self.target
        pool_options = tuple(sorted((k, repr(v)) for k, v in self._pool_options.items()))
        self._client_key = (
            target.mode, target.hosts, target.db, target.service, target.username,
            target.password, target.sentinel_password, pool_options,
        )  # fmt: skip

    @property
    def mode(self) -> str:
        return self.target.mode

    def _connection_options(self) -> dict[str, Any]:
        options = dict(self._pool_options)
        options.pop("retry_on_timeout", None)  # replaced by the short retry below
        return {**options, **self.target.connection_kwargs(), "retry": _short_retry()}

    def _build(self) -> Any:
        import redis
        from redis.cluster import ClusterNode, RedisCluster
        from redis.sentinel import Sentinel

        options = self._connection_options()
        if self.mode == "cluster":
            options.pop("health_check_interval", None)
            return RedisCluster(
                startup_nodes=[ClusterNode(host, port) for host, port in self.target.hosts],
                require_full_coverage=False,
                **options,
            )
        sentinel_options = {
            key: options[key]
            for key in ("socket_timeout", "socket_connect_timeout")
            if key in options
        }
        if self.target.sentinel_password:
            sentinel_options["password"] = self.target.sentinel_password
        sentinel = Sentinel(list(self.target.hosts), sentinel_kwargs=sentinel_options, **options)
        return sentinel.master_for(self.target.service, redis_class=redis.Redis, db=self.target.db)

    def raw_client(self) -> Any:
        """The process's redis-py client for this cache (built on first use)."""
        if self.mode == "single":
            return super().get_client(None, write=True)
        client = _clients.get(self._client_key)
        return client if client is not None else _shared_client(self)

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        if self.mode == "single":
            return super().get_client(key, write=write)
        return self.raw_client()  # the primary, for reads too: counters must be exact

    def get_many(self, keys: Any) -> dict[Any, Any]:
        if self.mode != "cluster":
            return super().get_many(keys)
        keys = list(keys)
        values = self.raw_client().mget_nonatomic(keys)
        pairs = zip(keys, values, strict=True)
        return {key: self._serializer.loads(value) for key, value in pairs if value is not None}

    def set_many(self, data: Mapping[Any, Any], timeout: int | timedelta | None) -> None:
        if self.mode != "cluster":
            # None means "no expiry": Django passes it, django-stubs omit it.
            return super().set_many(data, timeout)  # type: ignore[arg-type]
        pipeline = self.raw_client().pipeline()
        for key, value in data.items():
            pipeline.set(key, self._serializer.dumps(value), ex=timeout)
        pipeline.execute()
        return None

    def clear(self) -> bool:
        if self.mode != "cluster":
            return super().clear()
        from redis.cluster import RedisCluster

        self.raw_client().flushdb(target_nodes=RedisCluster.PRIMARIES)
        return True


def _with_sentinel_password(target: RedisTarget, password: str) -> RedisTarget:
    from dataclasses import replace

    return replace(target, sentinel_password=password or None)


# One Sentinel-managed or cluster client per process and configuration:
# Django makes a cache object per thread, and a RedisCluster keeps the slot
# map and a pool per node; every thread shares them.
_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()


def _shared_client(cache_client: TopologyRedisCacheClient) -> Any:
    with _clients_lock:
        client = _clients.get(cache_client._client_key)
        if client is None:
            client = _clients[cache_client._client_key] = cache_client._build()
        return client


def _clients_reset() -> None:
    # Tests start servers on fresh ports: forget clients of servers now gone.
    with _clients_lock:
        for client in _clients.values():
            try:
                client.close()
            except Exception:  # closing a dead client must not fail a reset
                pass
        _clients.clear()


process_state_register("redis topology clients", _clients_reset)


class GatehouseRedisCache(RedisCache):
    """``RedisCache`` whose ``LOCATION`` is one URL of any mode (``OPTIONS["mode"]``)."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        # A sentinel or cluster URL lists hosts with commas: keep it whole
        # (Django would split it into servers to spread reads over).
        self._servers = [server if isinstance(server, str) else ",".join(server)]
        self._class = TopologyRedisCacheClient


class RawRedis:
    """A redis-py client behind a cache; ``cluster`` when one call's keys must share a slot.

    ``client`` is built on first use (a cluster client loads its slot map
    then, and raises if no seed answers): read it inside the caller's cache
    error handling.
    """

    __slots__ = ("_backend", "cluster")

    def __init__(self, backend: Any, cluster: bool) -> None:
        self._backend = backend
        self.cluster = cluster

    @property
    def client(self) -> Any:
        backend = self._backend
        if isinstance(backend, TopologyRedisCacheClient):
            return backend.raw_client()
        client = _plain_clients.get(backend)
        if client is None:
            client = _plain_clients[backend] = backend.get_client(None, write=True)
        return client


# Django's own RedisCache builds a new redis-py client object per call
# (~170 dict writes): one per cache backend object is kept here.
_plain_clients: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()


def _client_of(cache: RedisCache) -> RedisCacheClient:
    # Django's RedisCache keeps its client in the private cached property
    # ``_cache``, which django-stubs do not declare.
    client: RedisCacheClient = cast(Any, cache)._cache
    return client


def raw_redis(cache: Any) -> RawRedis | None:
    """The raw redis-py client behind ``cache``, or None if it is not Redis.

    Works for ``GatehouseRedisCache`` in every mode and for Django's own
    ``RedisCache`` (a host project's settings). Connects to nothing.
    """
    try:
        return _raw_of[cache]
    except (KeyError, TypeError):
        pass
    if not isinstance(cache, RedisCache):
        return None
    backend = _client_of(cache)
    cluster = isinstance(backend, TopologyRedisCacheClient) and backend.mode == "cluster"
    raw = _raw_of[cache] = RawRedis(backend, cluster)
    return raw


_raw_of: "weakref.WeakKeyDictionary[Any, RawRedis]" = weakref.WeakKeyDictionary()


def redis_mode(cache: Any) -> str | None:
    """``single``, ``sentinel`` or ``cluster`` for a Redis cache; None for any other."""
    if not isinstance(cache, RedisCache):
        return None
    backend = _client_of(cache)
    return backend.mode if isinstance(backend, TopologyRedisCacheClient) else "single"


def redis_set_replicated(cache: Any, key: str, value: int, ttl: int, *, wait_ms: int = 100) -> bool:
    """Set ``key`` and wait until a replica has it (if the node has replicas).

    Replication is asynchronous: a primary that dies right after a write
    may fail over to a replica that never got it. For state that must
    survive a failover (a revocation mark), the write is followed by
    ``WAIT 1`` on the same connection. Returns False when no replica
    acknowledged it in ``wait_ms`` (the caller then treats it as not
    written); True when it did, or when the node has no replica to fail
    over to. Any other cache: a plain ``set``. Raises what redis-py raises.
    ``wait_ms`` stays well under the 0.25 s socket timeout: a slow replica
    must not look like a dead primary to the breaker.
    """
    raw = raw_redis(cache)
    if raw is None:
        cache.set(key, value, timeout=ttl)
        return True
    full = cache.make_key(key)
    client = raw.client
    if raw.cluster:
        client = client.get_node_from_key(full).redis_connection
    from redis.exceptions import ResponseError

    try:
        replicas = int(client.info("replication").get("connected_slaves", 0))
    except ResponseError:  # INFO renamed away (some managed services): cannot tell
        replicas = 0
    if replicas == 0:
        client.set(full, value, ex=ttl)
        return True
    pipe = client.pipeline(transaction=False)  # one connection: WAIT covers this SET
    pipe.set(full, value, ex=ttl)
    pipe.execute_command("WAIT", 1, wait_ms)
    return int(pipe.execute()[-1]) >= 1
