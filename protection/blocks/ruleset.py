"""The in-process compiled block list, so checks never touch the database.

IP and CIDR blocks become integer ranges in one IPv6 space (IPv4 as
``::ffff:a.b.c.d``), sorted by start. Networks are nested or disjoint, so
the blocks containing an address are exactly the chain of enclosing ranges
of the last range starting at or before it: one ``bisect`` plus a walk up
at most 129 parents, whatever the number of rules. Other kinds are a dict.

Each process keeps one ``BlockRegistry``. At most every
``BLOCKS_VERSION_CHECK_INTERVAL`` seconds it reads the shared "blocks
version" token from the cache and reloads from the database when it
changed; every block change writes a new token. If the cache fails, it
reloads from the database at most every ``BLOCKS_DB_RELOAD_INTERVAL``
seconds: the database is the truth, the cache only says when to look.
"""

import bisect
import ipaddress
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from protection.base.clientip import normalize_ip
from protection.base.processstate import process_state_register
from protection.blocks.models import BlockedClient
from protection.conf import gatehouse_settings
from protection.core.cachehealth import cache_failed, cache_health

logger = logging.getLogger("gatehouse.blocks")

VERSION_CACHE_KEY = "gh:blocks:version"
_V4_BASE = int(ipaddress.IPv6Address("::ffff:0:0"))


def ip_to_int(ip: str) -> int | None:
    """Position of an address in the shared IPv6 space (IPv4 mapped), or None.

    ``inet_pton`` is ten times cheaper than ``ipaddress`` and lands
    ``::ffff:a.b.c.d`` on the same integer as ``a.b.c.d`` by construction.
    """
    text = ip.strip().strip("[]")
    try:
        return _V4_BASE + int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except OSError:
        pass
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except OSError:
        normalized = normalize_ip(text)  # e.g. a scoped address: let ipaddress decide
        if normalized is None or normalized == text:
            return None
        return ip_to_int(normalized)


def network_range(value: str) -> tuple[int, int]:
    network = ipaddress.ip_network(value, strict=False)
    offset = _V4_BASE if network.version == 4 else 0
    return offset + int(network.network_address), offset + int(network.broadcast_address)


@dataclass
class CompiledBlocks:
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    expires: list[float | None] = field(default_factory=list)
    exact: dict[tuple[str, str], tuple[int, float | None]] = field(default_factory=dict)

    def match_ip(self, ip: str, now: float) -> int | None:
        """Return the id of an active block covering ``ip``, or None."""
        position = ip_to_int(ip)
        if position is None or not self.starts:
            return None
        index = bisect.bisect_right(self.starts, position) - 1
        while index >= 0:
            expires = self.expires[index]
            if self.ends[index] >= position and (expires is None or expires > now):
                return self.ids[index]
            index = self.parents[index]
        return None

    def match(self, kind: str, value: str, now: float) -> int | None:
        hit = self.exact.get((kind, value))
        if hit is not None and (hit[1] is None or hit[1] > now):
            return hit[0]
        return None


def compile_blocks(rows: Iterable[tuple[int, str, str, float | None]]) -> CompiledBlocks:
    """Compile ``(id, kind, value, expires_ts)`` rows into a ``CompiledBlocks``."""
    compiled = CompiledBlocks()
    ranges: list[tuple[int, int, int, float | None]] = []
    for block_id, kind, value, expires in rows:
        if kind in (BlockedClient.Kind.IP, BlockedClient.Kind.CIDR):
            try:
                start, end = network_range(value)
            except ValueError:
                logger.warning("Ignoring malformed %s block %s", kind, block_id)
                continue
            ranges.append((start, end, block_id, expires))
        else:
            compiled.exact[(kind, value)] = (block_id, expires)
    ranges.sort(key=lambda r: (r[0], -r[1]))
    stack: list[int] = []
    for index, (start, end, block_id, expires) in enumerate(ranges):
        while stack and compiled.ends[stack[-1]] < start:
            stack.pop()
        compiled.starts.append(start)
        compiled.ends.append(end)
        compiled.ids.append(block_id)
        compiled.expires.append(expires)
        compiled.parents.append(stack[-1] if stack else -1)
        stack.append(index)
    return compiled


def load_active_blocks() -> CompiledBlocks:
    """Read every active block from the database and compile it."""
    now = timezone.now()
    rows = (
        BlockedClient.objects.filter(lifted_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .values_list("id", "kind", "value", "expires_at")
    )
    return compile_blocks(
        (pk, kind, value, expires.timestamp() if expires else None)
        for pk, kind, value, expires in rows.iterator(chunk_size=2000)
    )


def blocks_version_bump() -> None:
    """Tell every process the block list changed (a fresh version token)."""
    try:
        # An integer: stored as is (not pickled), so a Lua GET reads it back.
        cache.set(VERSION_CACHE_KEY, secrets.randbits(62), timeout=None)
    except Exception:  # processes fall back to DB reloads while the cache is down
        logger.warning("Could not publish the blocks version", exc_info=True)


class BlockRegistry:
    """This process's compiled block list, refreshed as described above."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.compiled: CompiledBlocks | None = None
        self.version: int | None = None
        self.checked_at = 0.0
        self.loaded_at = 0.0
        self.lock = threading.Lock()

    def invalidate(self) -> None:
        """Reload on the next check (this process changed the block list)."""
        self.compiled = None

    def current(self) -> CompiledBlocks:
        now = self.clock()
        compiled = self.compiled
        interval = float(gatehouse_settings.BLOCKS_VERSION_CHECK_INTERVAL)
        if compiled is not None and now - self.checked_at < interval:
            return compiled
        with self.lock:
            if self.compiled is not None and now - self.checked_at < interval:
                return self.compiled
            self.checked_at = now
            version = None
            cache_usable = not cache_health.is_down(time.monotonic())
            if cache_usable:
                try:
                    version = cache.get(VERSION_CACHE_KEY)
                    if version is None:
                        cache.add(VERSION_CACHE_KEY, secrets.randbits(62), timeout=None)
                        version = cache.get(VERSION_CACHE_KEY)
                except Exception as exc:  # a slow cache then costs one timeout, not one per check
                    cache_failed(exc)
                    cache_usable = False
            if not cache_usable:  # cache down: the database decides, at a bounded rate
                due = now - self.loaded_at >= float(gatehouse_settings.BLOCKS_DB_RELOAD_INTERVAL)
                if self.compiled is None or due:
                    self._reload(now, version)
                return self.compiled  # type: ignore[return-value]
            # Re-read now and then even when the version says nothing changed: a
            # change whose version bump was lost (cache hiccup) still arrives.
            stale = now - self.loaded_at >= float(gatehouse_settings.BLOCKS_MAX_AGE)
            if self.compiled is None or version != self.version or version is None or stale:
                self._reload(now, version)
            return self.compiled  # type: ignore[return-value]

    def observe(self, version: object) -> bool:
        """Take the version read in a request's own cache round trip.

        Reloads at once when it differs from the loaded one (so a new block
        applies to the request that learned of it) and counts as this
        interval's version check. Returns True when the list was reloaded.
        """
        try:
            number = int(version)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return False  # absent or unreadable: the periodic check decides
        now = self.clock()
        with self.lock:
            self.checked_at = now
            # Re-read now and then whatever the version says (BLOCKS_MAX_AGE):
            # a change whose version bump was lost still arrives.
            stale = now - self.loaded_at >= float(gatehouse_settings.BLOCKS_MAX_AGE)
            if self.compiled is not None and number == self.version and not stale:
                return False
            self._reload(now, number)
            return True

    def _reload(self, now: float, version: int | None) -> None:
        try:
            self.compiled = load_active_blocks()
        except Exception:  # database down: keep the last list rather than fail every request
            logger.warning("Could not reload the block list", exc_info=True)
            self.compiled = self.compiled or CompiledBlocks()
            return
        self.version = version
        self.loaded_at = now


registry = BlockRegistry()


def _registry_reset() -> None:
    registry.invalidate()
    registry.version = None


process_state_register("compiled blocks", _registry_reset)
