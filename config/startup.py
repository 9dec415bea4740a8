"""Start-up guard for the WSGI/ASGI servers."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


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


def refuse_unusable_attestation_settings() -> None:
    """Stop a server whose attestation settings cannot work (protection.E006 / E007):
    a short or undecodable Approov secret would otherwise surface as 503s later."""
    from protection.checks import check_attestation_settings

    errors = check_attestation_settings(None)
    if errors:
        raise ImproperlyConfigured(" ".join(f"{error.id}: {error.msg}" for error in errors))
