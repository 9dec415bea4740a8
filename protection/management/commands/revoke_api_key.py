"""``revoke_api_key``: revoke for good; every process refuses the key within a second."""

from typing import Any

from django.core.exceptions import MultipleObjectsReturned, ObjectDoesNotExist
from django.core.management.base import BaseCommand, CommandError, CommandParser

from protection.base.exceptions import ProtectionError
from protection.keys import api_key_find, api_key_revoke


class Command(BaseCommand):
    help = "Revoke an API key. Revocation cannot be undone."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key", help="public id, or the name of one active key")
        parser.add_argument("--reason", required=True, help="why; kept in the audit log")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            api_key = api_key_find(ref=options["key"])
            api_key = api_key_revoke(api_key=api_key, reason=options["reason"])
        except (ValueError, ObjectDoesNotExist, MultipleObjectsReturned) as exc:
            raise CommandError(str(exc)) from exc
        except ProtectionError as exc:
            raise CommandError(f"{api_key}: {exc.detail}") from exc
        if options["verbosity"] < 1:
            return
        assert api_key.revoked_at is not None  # api_key_revoke sets it (or refuses)
        self.stdout.write(
            f"Revoked {api_key.name!r} ({api_key.public_id}) at "
            f"{api_key.revoked_at.isoformat()}: {api_key.revoked_reason}"
        )
