"""Who the client is, by network address: resolved once per request.

``REMOTE_ADDR`` is the client unless the deployment declares how many trusted
reverse proxies stand in front (``GATEHOUSE["TRUSTED_PROXIES"]``, env
``GATEHOUSE_TRUSTED_PROXIES``) and the request comes from one of them (a peer
in ``TRUSTED_PROXY_NETWORKS``, env ``GATEHOUSE_TRUSTED_PROXY_NETWORKS``). With
N proxies, each appends the address it saw to X-Forwarded-For, so the client
is the N-th entry from the right; anything further left was written by the
client and is ignored.

An entry may carry a port (``1.2.3.4:5678``, ``[2001:db8::1]:443``, as some
load balancers write it). An entry that is still not an address
(``unknown``, garbage) or a missing one makes the client ``UNKNOWN_IP``: one
shared "unknown client" bucket, never the proxy's own address, or every
client behind the proxy would share the proxy's budget and an automatic
block would shut them all out.
"""

import functools
import ipaddress
from collections.abc import Iterable

from protection.conf import gatehouse_settings

# The "unknown client" bucket: a forwarded entry that names no address (or
# is missing) counts here, never as the proxy that forwarded it.
UNKNOWN_IP = "0.0.0.0"


def normalize_ip(value: str) -> str | None:
    """Return the canonical text of an IP address, or None if it is not one.

    IPv4-mapped IPv6 (``::ffff:192.0.2.1``) becomes plain IPv4, so one client
    cannot appear under two spellings.
    """
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:  # fe80::1%eth0: the zone names our interface, not the client
            address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
        if address.ipv4_mapped:
            address = address.ipv4_mapped
    return str(address)


def parse_forwarded_entry(entry: str) -> str | None:
    """Return the address of one X-Forwarded-For entry, or None if it holds none.

    Accepts a bare address, ``ipv4:port`` and ``[ipv6]`` / ``[ipv6]:port``; a
    bare IPv6 address (several colons) is never split.
    """
    entry = entry.strip()
    if entry.startswith("["):
        host, bracket, rest = entry[1:].partition("]")
        if not bracket or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        entry = host
    elif entry.count(":") == 1:
        host, _, port = entry.partition(":")
        if not port.isdigit():
            return None
        entry = host
    return normalize_ip(entry) if entry else None


def ip_in_networks(ip: str, networks: Iterable[str]) -> bool:
    """Whether ``ip`` lies in one of ``networks`` (CIDR strings; malformed ones match nothing)."""
    address = ipaddress.ip_address(ip)
    for network in networks:
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except (ValueError, TypeError):
            continue
    return False


def peer_is_trusted_proxy(peer: str) -> bool:
    """Whether ``peer`` (a REMOTE_ADDR) is a reverse proxy whose headers are believed.

    True only when the deployment declares proxies (``TRUSTED_PROXIES`` > 0)
    and the peer lies in ``TRUSTED_PROXY_NETWORKS``.
    """
    address = normalize_ip(peer or "")
    if address is None or int(gatehouse_settings.TRUSTED_PROXIES or 0) <= 0:
        return False
    return ip_in_networks(address, gatehouse_settings.TRUSTED_PROXY_NETWORKS)


def client_ip_resolve(
    *, remote_addr: str, forwarded_for: str = "", peer_when_unforwarded: bool = False
) -> str:
    """Return the client's IP address from the peer and its X-Forwarded-For.

    The peer is the client unless ``TRUSTED_PROXIES`` > 0 and the peer is in
    ``TRUSTED_PROXY_NETWORKS``; then the N-th entry from the right is. An
    entry that is missing or names no address gives ``UNKNOWN_IP`` (its own
    bucket), never the proxy's address, which every client behind it shares.

    ``peer_when_unforwarded``: a trusted peer that sends no X-Forwarded-For
    at all is the client itself. Only for the probe views (health,
    readiness, /metrics), where a scraper or an orchestrator in the proxies'
    network connects directly; a proxied API request always has the header.
    """
    resolved = normalize_ip(remote_addr or "") or UNKNOWN_IP
    trusted_proxies = int(gatehouse_settings.TRUSTED_PROXIES or 0)
    if peer_is_trusted_proxy(resolved):
        if peer_when_unforwarded and not forwarded_for.strip():
            return resolved
        forwarded = [part for part in forwarded_for.split(",") if part.strip()]
        if len(forwarded) < trusted_proxies:
            return UNKNOWN_IP
        return parse_forwarded_entry(forwarded[-trusted_proxies]) or UNKNOWN_IP
    return resolved


def rate_limit_ident(ip: str) -> str:
    """Return the bucket a client address counts against.

    IPv4 addresses stand alone; IPv6 addresses are grouped by their /64 (or
    ``IPV6_GROUP_PREFIX``), since one subscriber typically holds a whole /64.
    """
    return _rate_limit_ident(ip, int(gatehouse_settings.IPV6_GROUP_PREFIX))


@functools.lru_cache(maxsize=8192)
def _rate_limit_ident(ip: str, prefix: int) -> str:
    # Memoised: every limited request asks it several times for its address.
    normalized = normalize_ip(ip) or UNKNOWN_IP
    address = ipaddress.ip_address(normalized)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    return normalized
