"""Prepare a local demo: migrations, a fresh demo API key, an admin password, the URLs.

The port is checked first: when it is busy (another ``make run``?), nothing
is changed, so the running server keeps its demo key and admin password.
"""

import errno
import socket
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.crypto import get_random_string

from protection.dpop import dpop_public_origin
from protection.keys import ApiKey, api_key_create, api_key_revoke

DEMO_KEY_NAME = "quickstart demo"
DEFAULT_PORT = 8000
HOST = "127.0.0.1"


def demo_origins(port: int) -> list[str]:
    """The browser origins the demo key accepts: the page as ``make run`` serves it."""
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def dpop_line(base: str) -> str:
    """What the page will do about DPoP when served at ``base``: bind its
    sessions to a browser key only if proofs are checked for that origin."""
    origin = dpop_public_origin()
    if origin == base:
        return f"DPoP is on: the page binds its sessions to a key made in the browser ({base})."
    return (
        f"DPoP is off for the page (GATEHOUSE_PUBLIC_BASE_URL is {origin or 'unset'}, "
        f"not {base}): it uses Bearer tokens."
    )


def port_is_free(port: int, host: str = HOST) -> bool:
    """Return whether ``host:port`` can be listened on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


class Command(BaseCommand):
    help = "Local demo: migrate, then a fresh API key and admin password, printed with the URLs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port",
            type=int,
            default=DEFAULT_PORT,
            help="The port runserver will use (printed URLs, demo key origins). Default 8000.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("quickstart is for local development: run it with DJANGO_DEBUG=1")
        port = options["port"]
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, not {port}.")
        if not port_is_free(port):
            raise CommandError(
                f"Port {port} is already in use (another `make run`?). Nothing was changed. "
                f"Stop that server, or pick another port: make run PORT={port + 1}"
            )
        call_command("migrate", interactive=False, verbosity=0)
        admin_password = get_random_string(20)
        admin_user, _ = get_user_model().objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        admin_user.set_password(admin_password)
        admin_user.save()
        for previous in ApiKey.objects.filter(name=DEMO_KEY_NAME, revoked_at__isnull=True):
            api_key_revoke(api_key=previous, reason="replaced by a new quickstart run")
        _, raw_key = api_key_create(
            name=DEMO_KEY_NAME, allowed_origins=demo_origins(port), required_verifications=["pow"]
        )
        base = f"http://{HOST}:{port}"
        self.stdout.write(
            "\n".join(
                [
                    "gatehouse is starting on " + base,
                    f"  sign-up page:      {base}/#key={raw_key}",
                    f"  API docs:          {base}/api/docs/",
                    f"  health:            {base}/api/v1/health",
                    f"  admin:             {base}/admin/ "
                    f"(user admin, password {admin_password}, new on every run)",
                    "",
                    "DEBUG is on: requests from this machine (loopback) are never blocked "
                    "automatically and never get harder proofs of work.",
                    dpop_line(base),
                    "",
                    "Demo API key (publishable, shown once; send it as X-Api-Key):",
                    raw_key,
                ]
            )
        )
