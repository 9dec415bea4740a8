"""Start-up guard for the WSGI/ASGI servers."""

import logging

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger("gatehouse.startup")


def refuse_development_secrets() -> None:
    """Stop a production (DEBUG off) server that still uses a development secret."""
    if settings.DEBUG:
        return
    if settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        raise ImproperlyConfigured(
            "Refusing to start with DEBUG off and the development DJANGO_SECRET_KEY. "
            "Set DJANGO_SECRET_KEY (and GATEHOUSE_SIGNING_KEY) to long random values, "
            "or set DJANGO_DEBUG=1 for local development."
        )
    if settings.GATEHOUSE["SIGNING_KEY"] == settings.DEVELOPMENT_SIGNING_KEY:
        raise ImproperlyConfigured(
            "Refusing to start with DEBUG off and the development GATEHOUSE_SIGNING_KEY. "
            "Set GATEHOUSE_SIGNING_KEY to a long random value distinct from DJANGO_SECRET_KEY."
        )


# Findings about stored data, not about this deployment's configuration: a
# malformed per-key override is ignored by requests, so it is logged at start
# rather than keeping every worker down over one database row.
DATA_CHECKS = {"protection.E011"}


def refuse_configuration_errors() -> None:
    """Stop a server whose gatehouse configuration has errors (``protection.E…`` and
    ``signup.E…`` checks).

    gunicorn does not run Django's system checks; without this a malformed
    AUTO_BLOCK_RULES entry or rate would only surface as log lines on live
    traffic. Warnings do not stop the server; data findings are logged.
    """
    errors = []
    for message in checks.run_checks():
        ours = str(message.id or "").startswith(("protection.", "signup."))
        if message.level < checks.ERROR or not ours:
            continue
        if message.id in DATA_CHECKS:
            logger.error("%s: %s", message.id, message.msg)
        else:
            errors.append(message)
    if errors:
        raise ImproperlyConfigured(
            "Refusing to start with configuration errors:\n"
            + "\n".join(f"  {message.id}: {message.msg}" for message in errors)
        )
