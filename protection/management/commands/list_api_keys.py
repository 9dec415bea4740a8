"""``list_api_keys``: a table of keys and their status; never a secret or a hash."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from protection.keys import ApiKey, ApiKeyStatus, api_key_status

COLUMNS = ("NAME", "KIND", "PUBLIC ID", "SCOPES", "STATUS", "LAST USED", "EXPIRES")


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


class Command(BaseCommand):
    help = "List API keys: name, kind, public id, scopes, status, last used, expiry."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--status", choices=ApiKeyStatus.values, help="only this status")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        keys = ApiKey.objects.order_by("name", "-created_at")
        if options["status"]:
            keys = keys.with_status(options["status"], now=now)
        rows = [COLUMNS] + [
            (key.name, key.kind, key.public_id, ",".join(key.scopes) or "-",
             api_key_status(key, now).value, _when(key.last_used_at), _when(key.expires_at))
            for key in keys
        ]  # fmt: skip
        widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
        for row in rows:
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            self.stdout.write("  ".join(cells).rstrip())
        if len(rows) == 1:
            self.stdout.write("(no API keys)")
