"""``create_webhook``: a summary, then the signing secret alone on the last line of stdout.

``--json`` prints one JSON object instead, the secret in its ``secret``
field. The secret is shown this once; the receiver verifies signatures
with it (docs/webhooks.md).
"""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from protection.webhooks import EVENT_TYPES, WebhookEndpoint, webhook_endpoint_create


def webhook_endpoint_summary(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """The JSON description of an endpoint (no secret)."""
    return {
        "id": endpoint.pk,
        "url": endpoint.url,
        "events": list(endpoint.event_types),
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "created_at": endpoint.created_at.isoformat(),
    }


class Command(BaseCommand):
    help = "Create a webhook endpoint. Its signing secret is printed once, alone on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", required=True, help="https://… the receiver's URL")
        parser.add_argument(
            "--events", required=True, help=f"comma list of {','.join(EVENT_TYPES)}"
        )
        parser.add_argument("--description", default="", help="what receives them (for staff)")
        parser.add_argument(
            "--json",
            action="store_true",
            help="print one JSON object (the secret in its 'secret' field) instead of text",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            endpoint, secret = webhook_endpoint_create(
                url=options["url"],
                event_types=options["events"],
                description=options["description"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps({**webhook_endpoint_summary(endpoint), "secret": secret}))
            return
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"Created webhook endpoint {endpoint.pk}\n"
                f"  url:    {endpoint.url}\n"
                f"  events: {', '.join(endpoint.event_types)}\n"
                "Store the signing secret now, it cannot be shown again:"
            )
        self.stdout.write(secret)
