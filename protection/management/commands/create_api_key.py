"""``create_api_key``: a summary, then the raw key alone on the last line of stdout.

``--json`` prints one JSON object instead, the raw key in its ``key`` field;
``-v 0`` prints the raw key alone.
"""

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from protection.base.durations import parse_duration
from protection.keys import CAPTCHAS, SCOPES, VERIFICATIONS, ApiKey, api_key_create
from protection.keys.ladder import challenge_ladder_format
from protection.keys.network_policy import network_policy_format


def api_key_summary(api_key: ApiKey) -> dict[str, Any]:
    """The JSON description of a key shared by create_api_key and list_api_keys (no secret)."""
    return {
        "name": api_key.name,
        "kind": api_key.kind,
        "public_id": api_key.public_id,
        "scopes": list(api_key.scopes),
        "allowed_origins": list(api_key.allowed_origins),
        "requires": list(api_key.required_verifications),
        "network_policy": dict(api_key.network_policy),
        "challenge_ladder": dict(api_key.challenge_ladder),
        "captcha": api_key.captcha or None,
        "created_at": api_key.created_at.isoformat() if api_key.created_at else None,
        "expires_at": api_key.expires_at.isoformat() if api_key.expires_at else None,
    }


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
            "--captcha",
            choices=CAPTCHAS,
            help="the CAPTCHA this key's clients solve when one is asked for (default: the "
            "one --require names, else none)",
        )
        parser.add_argument(
            "--captcha-action",
            help="Turnstile: the action the widget is rendered with (default: signup)",
        )
        parser.add_argument(
            "--attest-every-request",
            action="store_true",
            help="also require the key's attestation evidence on every lookup and create",
        )
        parser.add_argument(
            "--network-policy",
            default="",
            help="per network class (tor, proxy, vpn, hosting): allow, harder, deny or "
            "require:<evidence>, e.g. tor=deny,hosting=harder (default: NETWORK_POLICY)",
        )
        parser.add_argument(
            "--ladder",
            default="",
            help="the key's challenge ladder, tier by tier over CHALLENGE_LADDER: "
            "tier=evidence pairs (evidence joined with +, or deny), e.g. "
            "high=captcha+pow_hard,critical=deny; dry_run=true; or off (the floor only, "
            "whatever the risk)",
        )
        parser.add_argument("--expires", help="lifetime, e.g. 30d (default: never)")
        parser.add_argument(
            "--json",
            action="store_true",
            help="print one JSON object (the raw key in its 'key' field) instead of text",
        )

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
                network_policy=options["network_policy"],
                challenge_ladder=options["ladder"],
                expires_at=timezone.now() + lifetime if lifetime else None,
                captcha=options["captcha"] or "",
                **(
                    {"captcha_action": options["captcha_action"]}
                    if options["captcha_action"]
                    else {}
                ),
            )
        except (ValueError, ValidationError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
        if options["json"]:
            self.stdout.write(json.dumps({**api_key_summary(api_key), "key": raw_key}))
            return
        if options["verbosity"] >= 1:
            expires = api_key.expires_at.isoformat() if api_key.expires_at else "never"
            network = network_policy_format(api_key.network_policy) or "as NETWORK_POLICY"
            ladder = challenge_ladder_format(api_key.challenge_ladder) or "as CHALLENGE_LADDER"
            self.stdout.write(
                f"Created {api_key.kind} API key {api_key.name!r}\n"
                f"  public id: {api_key.public_id}\n"
                f"  scopes:    {', '.join(api_key.scopes) or '(none)'}\n"
                f"  origins:   {', '.join(api_key.allowed_origins) or '(none: browsers refused)'}\n"
                f"  requires:  {', '.join(api_key.required_verifications) or 'none'}"
                f"{' (attestation on every request)' if api_key.attest_every_request else ''}\n"
                f"  network:   {network}\n"
                f"  ladder:    {ladder}\n"
                f"  captcha:   {api_key.captcha or 'none'}\n"
                f"  expires:   {expires}\n"
                "Store the key now, it cannot be shown again:"
            )
        self.stdout.write(raw_key)
