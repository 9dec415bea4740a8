"""Remove what has expired: one line per concern, each a service call.

``--dry-run`` runs the same purge in a transaction that is rolled back: the
counts are exactly what a real run would delete, and nothing is deleted.
``-v 0`` prints nothing; ``-v 2`` also prints the retention settings.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from protection.adminlogin import adminlogin_purge_expired
from protection.blocks import blocks_purge_expired
from protection.challenges import challenges_purge_expired
from protection.conf import gatehouse_settings
from protection.core.events import events_purge_old
from protection.core.housekeeping import PURGES
from protection.sessions import sessions_purge_expired


class Command(BaseCommand):
    help = (
        "Delete expired sessions, spent challenges, expired blocks, old events and "
        "old admin login records."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="count what would be deleted, delete nothing",
        )

    def _purge(self) -> dict[str, int]:
        purged = {
            "sessions": sessions_purge_expired(),
            "spent challenges": challenges_purge_expired(),
            "blocks": blocks_purge_expired(),
            "events": events_purge_old(),
            "admin login records": adminlogin_purge_expired(),
        }
        # Other apps' purges (signup's idempotency records), registered at startup.
        purged.update({label: purge() for label, purge in PURGES.items()})
        return purged

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        verbosity = options["verbosity"]
        if verbosity >= 2:
            self.stdout.write(
                f"keeping events for {int(gatehouse_settings.EVENTS_RETENTION)}s and ended "
                f"blocks for {int(gatehouse_settings.BLOCKS_KEEP_ENDED_FOR)}s"
            )
        if not dry_run:  # each delete commits on its own, as before: no long-held locks
            purged = self._purge()
        else:
            with transaction.atomic():
                purged = self._purge()
                transaction.set_rollback(True)
        if verbosity < 1:
            return
        verb = "would be removed" if dry_run else "removed"
        for what, count in purged.items():
            self.stdout.write(f"{what}: {count} {verb}")
        if dry_run:
            self.stdout.write("dry run: nothing was deleted")
