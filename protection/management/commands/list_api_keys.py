"""``list_api_keys``: a table of keys and their status; never a secret or a hash.

``--json`` prints one JSON array of objects (the fields of ``create_api_key
--json`` without ``key``, plus ``status`` and ``last_used_at``). ``-v 0``
drops the header line; ``-v 2`` adds the allowed origins and requirements.
"""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from protection.keys import ApiKey, ApiKeyStatus, api_key_status
from protection.management.commands.create_api_key import api_key_summary

COLUMNS = ("NAME", "KIND", "PUBLIC ID", "SCOPES", "STATUS", "LAST USED", "EXPIRES")
DETAIL_COLUMNS = ("ORIGINS", "REQUIRES")


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


class Command(BaseCommand):
    help = "List API keys: name, kind, public id, scopes, status, last used, expiry."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--status", choices=ApiKeyStatus.values, help="only this status")
        parser.add_argument("--json", action="store_true", help="print a JSON array")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        keys = ApiKey.objects.order_by("name", "-created_at")
        if options["status"]:
            keys = keys.with_status(options["status"], now=now)
        if options["json"]:
            listed = [
                {
                    **api_key_summary(key),
                    "status": api_key_status(key, now).value,
                    "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
                }
                for key in keys
            ]
            self.stdout.write(json.dumps(listed, indent=2 if options["verbosity"] >= 2 else None))
            return
        detailed = options["verbosity"] >= 2
        header = COLUMNS + DETAIL_COLUMNS if detailed else COLUMNS
        rows = [
            (key.name, key.kind, key.public_id, ",".join(key.scopes) or "-",
             api_key_status(key, now).value, _when(key.last_used_at), _when(key.expires_at))
            + ((",".join(key.allowed_origins) or "-", ",".join(key.required_verifications)
                or "none") if detailed else ())
            for key in keys
        ]  # fmt: skip
        shown = [header, *rows] if options["verbosity"] >= 1 else rows
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in shown:
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            self.stdout.write("  ".join(cells).rstrip())
        if not rows and options["verbosity"] >= 1:
            self.stdout.write("(no API keys)")
