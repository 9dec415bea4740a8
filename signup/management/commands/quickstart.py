"""Prepare a local demo: a fresh demo API key, printed once, and the URLs to open."""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.crypto import get_random_string

from protection.keys import ApiKey, api_key_create, api_key_revoke

DEMO_KEY_NAME = "quickstart demo"
DEMO_ORIGINS = ("http://127.0.0.1:8000", "http://localhost:8000")


class Command(BaseCommand):
    help = "Local demo: a fresh API key and admin password, printed with the URLs to open."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("quickstart is for local development: run it with DJANGO_DEBUG=1")
        admin_password = get_random_string(20)
        admin_user, _ = get_user_model().objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        admin_user.set_password(admin_password)
        admin_user.save()
        for previous in ApiKey.objects.filter(name=DEMO_KEY_NAME, revoked_at__isnull=True):
            api_key_revoke(api_key=previous, reason="replaced by a new quickstart run")
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
                    f"(user admin, password {admin_password}, new on every run)",
                    "",
                    "Demo API key (publishable, shown once; send it as X-Api-Key):",
                    raw_key,
                ]
            )
        )
