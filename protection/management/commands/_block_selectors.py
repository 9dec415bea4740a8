"""The selector flags shared by block_client and unblock_client."""

from typing import Any

from django.core.management.base import CommandError, CommandParser

from protection.blocks import BlockedClient

SELECTORS = {
    "ip": BlockedClient.Kind.IP,
    "cidr": BlockedClient.Kind.CIDR,
    "key": BlockedClient.Kind.API_KEY,
    "session": BlockedClient.Kind.SESSION,
    "device": BlockedClient.Kind.DEVICE,
    "domain": BlockedClient.Kind.EMAIL_DOMAIN,
    "asn": BlockedClient.Kind.ASN,
    "country": BlockedClient.Kind.COUNTRY,
    "network_class": BlockedClient.Kind.NETWORK_CLASS,
    "phone_prefix": BlockedClient.Kind.PHONE_PREFIX,
}
EXAMPLES = {
    "asn": "64500 or AS64500",
    "country": "ISO 3166 alpha-2, e.g. XA",
    "network_class": "tor, hosting, vpn or proxy",
    "phone_prefix": "E.164 without its last four digits, e.g. +1201555",
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_selector_arguments(parser: CommandParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    for name, kind in SELECTORS.items():
        example = f" ({EXAMPLES[name]})" if name in EXAMPLES else ""
        group.add_argument(_flag(name), metavar="VALUE", help=f"{kind.label} to act on{example}")


def selected(options: dict[str, Any]) -> tuple[str, str]:
    """Return ``(kind, value)`` from the one selector flag given."""
    chosen = [(SELECTORS[name], options[name]) for name in SELECTORS if options.get(name)]
    if len(chosen) != 1:
        raise CommandError(f"Give exactly one of {', '.join(map(_flag, SELECTORS))}")
    return chosen[0]
