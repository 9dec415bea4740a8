"""Remove what has expired: one line per concern, each a service call."""

from typing import Any

from django.core.management.base import BaseCommand

from protection.blocks import blocks_purge_expired
from protection.challenges import challenges_purge_expired
from protection.events import events_purge_old
from protection.housekeeping import PURGES
from protection.sessions import sessions_purge_expired


class Command(BaseCommand):
    help = "Delete expired sessions, spent challenges, expired blocks and old events."

    def handle(self, *args: Any, **options: Any) -> None:
        purged = {
            "sessions": sessions_purge_expired(),
            "spent challenges": challenges_purge_expired(),
            "blocks": blocks_purge_expired(),
            "events": events_purge_old(),
        }
        # Other apps' purges (signup's idempotency records), registered at startup.
        purged.update({label: purge() for label, purge in PURGES.items()})
        for what, count in purged.items():
            self.stdout.write(f"{what}: {count} removed")
