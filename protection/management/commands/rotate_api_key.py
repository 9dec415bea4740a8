"""``rotate_api_key``: issue a successor; its raw key alone on the last line of stdout."""

from typing import Any

from django.core.exceptions import MultipleObjectsReturned, ObjectDoesNotExist
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from protection.base.durations import parse_duration
from protection.base.exceptions import ProtectionError
from protection.keys import api_key_find, api_key_rotate


class Command(BaseCommand):
    help = "Rotate an API key: the old key works for the grace period, then stops."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key", help="public id, or the name of one active key")
        parser.add_argument("--grace", default="24h", help="how long the old key still works")
        parser.add_argument("--expires", help="lifetime of the new key, e.g. 90d (default: never)")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        try:
            grace = parse_duration(options["grace"])
            lifetime = parse_duration(options["expires"]) if options["expires"] else None
            old = api_key_find(ref=options["key"])
            new, raw_key = api_key_rotate(
                api_key=old, grace=grace, now=now, expires_at=now + lifetime if lifetime else None
            )
        except (ValueError, ObjectDoesNotExist, MultipleObjectsReturned) as exc:
            raise CommandError(str(exc)) from exc
        except ProtectionError as exc:
            raise CommandError(f"{old}: {exc.detail}") from exc
        if options["verbosity"] >= 1:
            replaced = new.replaces
            # A rotation always links the old key and gives it its grace period.
            assert replaced is not None and replaced.expires_at is not None
            self.stdout.write(
                f"Rotated {replaced.name!r}: old key {replaced.public_id} works until "
                f"{replaced.expires_at.isoformat()}, new key {new.public_id}\n"
                "Store the new key now, it cannot be shown again:"
            )
        self.stdout.write(raw_key)
