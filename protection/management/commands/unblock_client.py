"""Lift blocks: ``unblock_client --ip 203.0.113.7``.

Idempotent, for scripts: with no active block to lift it says so and exits 0.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from protection.blocks import block_value_normalize, blocks_lift
from protection.management.commands._block_selectors import add_selector_arguments, selected


class Command(BaseCommand):
    help = (
        "Lift the active blocks of an IP, network, API key, session, device, email domain, "
        "AS number, country, network class or phone number prefix."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_selector_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        kind, value = selected(options)
        try:
            value = block_value_normalize(kind, value)  # say it as it is stored
            lifted = blocks_lift(kind=kind, value=value)
        except ValueError as exc:
            raise CommandError(f"Invalid {kind}: {exc}") from exc
        if options["verbosity"] < 1:
            return
        if not lifted:
            self.stdout.write(f"No active block for {kind} {value}: nothing to lift")
            return
        self.stdout.write(f"Lifted {lifted} block(s) on {kind} {value}")
