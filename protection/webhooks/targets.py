"""Where a webhook may go: public addresses only (SSRF), checked at creation and at send.

A URL must be ``http(s)://host[:port]/…`` without credentials. Unless
``WEBHOOKS_ALLOW_PRIVATE_TARGETS`` is on, its host must resolve only to
public addresses: loopback, private, link-local, shared (CGNAT), reserved,
documentation, multicast and unspecified ranges are refused, including
IPv4 addresses hidden in IPv6 (mapped, NAT64, 6to4, Teredo). The check runs
on the resolved addresses, and the delivery connects to the address that
was checked, so a name that resolves differently a second later (DNS
rebinding) still cannot reach inside.
"""

import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import SplitResult, urlsplit

from protection.conf import gatehouse_settings

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
Resolver = Callable[..., list[tuple[Any, ...]]]


class WebhookTargetError(ValueError):
    """The URL may not be called. ``retryable``: the name did not resolve (yet)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


def webhook_url_parse(url: str) -> SplitResult:
    """The parts of a webhook URL, or WebhookTargetError for what is not one."""
    if not isinstance(url, str) or len(url) > 2000:
        raise WebhookTargetError("A webhook URL is a string of at most 2000 characters")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise WebhookTargetError("A webhook URL starts with https:// (or http://)")
    if not parts.hostname:
        raise WebhookTargetError("A webhook URL names a host")
    if parts.username is not None or parts.password is not None:
        raise WebhookTargetError(
            "A webhook URL carries no credentials: the signature authenticates"
        )
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise WebhookTargetError("A webhook URL's port is not a port number") from None
    return parts


def address_is_public(value: str) -> bool:
    """True if ``value`` is a globally routable unicast address."""
    address = ipaddress.ip_address(value.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.teredo:
            return False
        if embedded is not None:
            address = embedded
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified
    )


def private_targets_allowed() -> bool:
    return bool(gatehouse_settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS)


def webhook_target_resolve(url: str, *, resolve: Resolver = socket.getaddrinfo) -> str | None:
    """The address to connect to for ``url``, checked; None when private targets are allowed.

    Raises WebhookTargetError when the URL is malformed, its host does not
    resolve (``retryable``) or resolves to any non-public address.
    """
    parts = webhook_url_parse(url)
    if private_targets_allowed():
        return None  # resolved by the connection itself, anywhere
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        answers = resolve(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise WebhookTargetError(f"{host} does not resolve", retryable=True) from None
    addresses = list(dict.fromkeys(str(answer[4][0]) for answer in answers))
    if not addresses:
        raise WebhookTargetError(f"{host} does not resolve", retryable=True)
    refused = [address for address in addresses if not address_is_public(address)]
    if refused:
        raise WebhookTargetError(
            f"{host} resolves to a non-public address ({refused[0]}): refused unless "
            "WEBHOOKS_ALLOW_PRIVATE_TARGETS is on"
        )
    return addresses[0]
