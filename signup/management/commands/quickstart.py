"""Prepare a local demo: a fresh demo API key, printed once, and the URLs to open."""

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from protection.keys import ApiKey, api_key_create

DEMO_KEY_NAME = "quickstart demo"
DEMO_ORIGINS = ("http://127.0.0.1:8000", "http://localhost:8000")


class Command(BaseCommand):
    help = "Create a fresh demo API key (revoking the previous one) and print the URLs."

    def handle(self, *args: Any, **options: Any) -> None:
        ApiKey.objects.filter(name=DEMO_KEY_NAME, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_reason="replaced by a new quickstart run"
        )
        _, raw_key = api_key_create(
            name=DEMO_KEY_NAME, allowed_origins=DEMO_ORIGINS, required_verifications=["pow"]
        )
        base = "http://127.0.0.1:8000"
        self.stdout.write(
            "\n".join(
                [
                    "gatehouse is starting on " + base,
                    f"  demo sign-up page: {base}/",
                    f"  API docs:          {base}/api/docs/",
                    f"  health:            {base}/api/v1/health",
                    f"  admin:             {base}/admin/ "
                    "(create a login with: .venv/bin/python manage.py createsuperuser)",
                    "",
                    "Demo API key (publishable, shown once; send it as X-Api-Key):",
                    raw_key,
                ]
            )
        )
