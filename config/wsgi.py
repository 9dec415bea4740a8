"""WSGI entry point. Refuses to start in production with development secrets."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

from config.startup import (  # noqa: E402
    refuse_development_secrets,
    refuse_unusable_attestation_settings,
)

refuse_development_secrets()
refuse_unusable_attestation_settings()
