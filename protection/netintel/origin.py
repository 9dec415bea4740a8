"""What a client's IP says about where it comes from: ``NetworkOrigin``.

An origin is an AS number and its organisation, a country (ISO 3166 alpha-2)
and a network class: ``hosting`` (cloud and hosting providers), ``vpn``,
``tor`` (exit relays), ``proxy``, or ``""`` for none of them. ``unknown``
says gatehouse could not tell at all (no data loaded, data too old, or not
an IP address): decisions then fail open.

Addresses are parsed with ``inet_pton`` (ten times cheaper than
``ipaddress``); an IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) is its
IPv4 address. IPv6 is classified per /64 (the upper 64 bits), the
granularity gatehouse counts and blocks IPv6 clients at.
"""

import socket
from dataclasses import dataclass
from typing import Any

# When lists overlap, the first class here wins: a Tor exit in a hosting
# network is a Tor exit.
NETWORK_CLASSES = ("tor", "proxy", "vpn", "hosting")
_V4_MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"


@dataclass(frozen=True, slots=True)
class NetworkOrigin:
    """Where a request comes from, as far as the local data says."""

    asn: int | None = None
    as_org: str = ""
    country: str = ""
    network_class: str = ""
    unknown: bool = False

    def as_details(self) -> dict[str, Any]:
        """The shape events carry in ``details["network"]`` (never the IP)."""
        return {"asn": self.asn, "country": self.country, "class": self.network_class}


UNKNOWN_ORIGIN = NetworkOrigin(unknown=True)


def ip_key(ip: str) -> tuple[int, int] | None:
    """``(4, address)`` or ``(6, upper 64 bits)`` for ``ip``, or None if it is not one.

    ``::ffff:a.b.c.d`` is ``(4, a.b.c.d)``; brackets and an IPv6 zone are
    ignored.
    """
    text = ip.strip()
    if ":" not in text:  # one parse, not a failed one first: exceptions cost
        try:
            return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
        except OSError:
            return None
    if text.startswith("["):
        text = text.strip("[]")
    try:
        packed = socket.inet_pton(socket.AF_INET6, text.partition("%")[0])
    except OSError:
        return None
    if packed[:12] == _V4_MAPPED_PREFIX:
        return 4, int.from_bytes(packed[12:], "big")
    return 6, int.from_bytes(packed[:8], "big")
