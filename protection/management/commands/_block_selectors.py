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
}


def add_selector_arguments(parser: CommandParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    for flag, kind in SELECTORS.items():
        group.add_argument(f"--{flag}", metavar="VALUE", help=f"{kind.label} to act on")


def selected(options: dict[str, Any]) -> tuple[str, str]:
    """Return ``(kind, value)`` from the one selector flag given."""
    chosen = [(SELECTORS[flag], options[flag]) for flag in SELECTORS if options.get(flag)]
    if len(chosen) != 1:
        raise CommandError("Give exactly one of --ip, --cidr, --key, --session, --device, --domain")
    return chosen[0]
