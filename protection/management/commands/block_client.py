"""Block a client: ``block_client --ip 203.0.113.7 --for 24h --reason "scraping"``.

An IPv6 ``--ip`` blocks the client's /64; ``--cidr`` any other range, with
``--force`` when it is broader than BLOCKS_BROADEST_PREFIX_IPV4 / _IPV6.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from protection.base.durations import parse_duration
from protection.blocks import block_create
from protection.management.commands._block_selectors import add_selector_arguments, selected


class Command(BaseCommand):
    help = (
        "Block an IP, network, API key, session, device, email domain, AS number, country, "
        "network class or phone number prefix."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_selector_arguments(parser)
        parser.add_argument("--for", dest="duration", help="30s, 30m, 24h, 7d; omit = permanent")
        parser.add_argument("--reason", default="", help="why (shown in the admin)")
        parser.add_argument(
            "--force",
            action="store_true",
            help="allow a network broader than BLOCKS_BROADEST_PREFIX_IPV4 / _IPV6",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        kind, value = selected(options)
        try:
            duration = parse_duration(options["duration"]) if options["duration"] else None
        except ValueError as exc:
            raise CommandError(f"Invalid --for: {exc}") from exc
        try:
            block = block_create(
                kind=kind,
                value=value,
                reason=options["reason"],
                duration=duration,
                rule="",
                force=options["force"],
            )
        except ValueError as exc:
            raise CommandError(f"Invalid {kind}: {exc}") from exc
        if options["verbosity"] < 1:
            return
        until = block.expires_at.isoformat() if block.expires_at else "permanently"
        self.stdout.write(f"Blocked {block.kind} {block.value} until {until} (block {block.pk})")
