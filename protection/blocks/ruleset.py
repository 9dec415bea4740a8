"""The in-process compiled block list, so checks never touch the database.

IP and CIDR blocks become integer ranges in one IPv6 space (IPv4 as
``::ffff:a.b.c.d``), sorted by start. Networks are nested or disjoint, so
the blocks containing an address are exactly the chain of enclosing ranges
of the last range starting at or before it: one ``bisect`` plus a walk up
at most 129 parents, whatever the number of rules. Other kinds are a dict.

Each process keeps one ``BlockRegistry`` (a ``VersionedRegistry``, see
``protection.core.versions``). Every block change rewrites the version row
(``BlockListVersion``) in its transaction and publishes the new version to
the shared cache after commit. A process reads the cached version at most
every ``BLOCKS_VERSION_CHECK_INTERVAL`` seconds (or in a request's own round
trip), and the database's at least every ``BLOCKS_MAX_AGE`` seconds; without
a shared cache (local memory, or Redis down) the database's at most every
``BLOCKS_DB_RELOAD_INTERVAL`` seconds. It reloads when the version changed:
a block reaches every process within about a second, with or without Redis.
"""

import bisect
import ipaddress
import logging
import secrets
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from protection.base.clientip import normalize_ip
from protection.base.processstate import process_state_register
from protection.blocks.models import BlockedClient, BlockListVersion
from protection.conf import gatehouse_settings
from protection.core.versions import VersionedRegistry, version_publish

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


def blocks_version_stored() -> int:
    """The block list's version in the database (0 before the first change)."""
    token = BlockListVersion.objects.filter(pk=1).values_list("token", flat=True).first()
    return int(token or 0)


def blocks_version_publish(token: int) -> None:
    """Put ``token`` in the shared cache, where every request's round trip reads it."""
    version_publish(VERSION_CACHE_KEY, token)


def blocks_version_bump() -> int:
    """Record that the block list changed; return the new version.

    The version row is written in the caller's transaction (so the database
    never says "changed" before the change is visible) and published to the
    shared cache once it commits.
    """
    token = secrets.randbits(62) or 1
    now = timezone.now()
    if not BlockListVersion.objects.filter(pk=1).update(token=token, changed_at=now):
        BlockListVersion.objects.update_or_create(
            pk=1, defaults={"token": token, "changed_at": now}
        )
    transaction.on_commit(lambda: blocks_version_publish(token))
    return token


class BlockRegistry(VersionedRegistry[CompiledBlocks]):
    """This process's compiled block list, refreshed as the module docstring says."""

    cache_key = VERSION_CACHE_KEY
    name = "block list"

    @property
    def compiled(self) -> CompiledBlocks | None:
        return self.data

    def check_interval(self) -> float:
        return float(gatehouse_settings.BLOCKS_VERSION_CHECK_INTERVAL)

    def db_check_interval(self) -> float:
        return float(gatehouse_settings.BLOCKS_DB_RELOAD_INTERVAL)

    def max_age(self) -> float:
        return float(gatehouse_settings.BLOCKS_MAX_AGE)

    def stored_version(self) -> int:
        return blocks_version_stored()

    def load(self, version: int) -> CompiledBlocks:
        return load_active_blocks()

    def empty(self) -> CompiledBlocks:
        return CompiledBlocks()


registry = BlockRegistry()
process_state_register("compiled blocks", registry.reset)
