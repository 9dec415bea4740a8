"""ASGI entry point. Refuses to start with development secrets, a per-process cache
in production or configuration errors."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_asgi_application()

from config.startup import refuse_to_start_if_broken  # noqa: E402

refuse_to_start_if_broken()
