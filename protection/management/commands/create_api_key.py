"""``create_api_key``: a summary, then the raw key alone on the last line of stdout."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from protection.durations import parse_duration
from protection.keys import SCOPES, VERIFICATIONS, ApiKey, api_key_create


class Command(BaseCommand):
    help = "Create an API key. The raw key is printed once, alone on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--kind", choices=ApiKey.Kind.values, default="publishable")
        parser.add_argument("--scopes", default=",".join(SCOPES), help="comma list")
        parser.add_argument("--origins", default="", help="comma list of exact origins")
        parser.add_argument(
            "--require",
            default="pow",
            help=f"comma list of {','.join(VERIFICATIONS)}, or none",
        )
        parser.add_argument(
            "--attest-every-request",
            action="store_true",
            help="also require the key's attestation evidence on every lookup and create",
        )
        parser.add_argument("--expires", help="lifetime, e.g. 30d (default: never)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            lifetime = parse_duration(options["expires"]) if options["expires"] else None
            api_key, raw_key = api_key_create(
                name=options["name"],
                kind=options["kind"],
                scopes=options["scopes"],
                allowed_origins=options["origins"],
                required_verifications=options["require"],
                attest_every_request=options["attest_every_request"],
                expires_at=timezone.now() + lifetime if lifetime else None,
            )
        except (ValueError, ValidationError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
        self.stdout.write(
            f"Created {api_key.kind} API key {api_key.name!r}\n"
            f"  public id: {api_key.public_id}\n"
            f"  scopes:    {', '.join(api_key.scopes) or '(none)'}\n"
            f"  origins:   {', '.join(api_key.allowed_origins) or '(none: browsers refused)'}\n"
            f"  requires:  {', '.join(api_key.required_verifications) or 'none'}"
            f"{' (attestation on every request)' if api_key.attest_every_request else ''}\n"
            f"  expires:   {api_key.expires_at.isoformat() if api_key.expires_at else 'never'}\n"
            "Store the key now, it cannot be shown again:"
        )
        self.stdout.write(raw_key)
