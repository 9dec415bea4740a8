"""Settings for tests and benchmarks that start real gunicorn workers.

The project settings (DATABASE_URL, REDIS_URL, ... from the environment),
plus the test-only endpoints of ``tests.support.server_urls``, limits for them, no
automatic blocking (a benchmark's 429s must not turn into blocks), and DRF's
``AnonRateThrottle`` at the same 100/hour for the side-by-side comparison.
The bench's "stack" row (``tests.support.server_stack``) adds djangorestframework-api-key
(its model and migration), simplejwt settings for its stateless tokens and
its three throttle rates: ``GATEHOUSE_TEST_STACK_RATES`` (JSON, scope -> rate)
replaces them.
``GATEHOUSE_TEST_RATE_LIMITS`` (JSON, group -> dimension -> rates) adds to
or replaces groups; ``GATEHOUSE_TEST_SETTINGS`` (JSON, name -> value)
replaces any other GATEHOUSE entry, e.g. the sign-up business limits for a
benchmark that must measure 200s only.
"""

import json
import os
from datetime import timedelta

from config.settings import *  # noqa: F403
from config.settings import GATEHOUSE, INSTALLED_APPS, REST_FRAMEWORK, SECRET_KEY
from protection.conf import DEFAULTS

ROOT_URLCONF = "tests.support.server_urls"

GATEHOUSE = {
    **GATEHOUSE,
    "RATE_LIMITS": {
        **DEFAULTS["RATE_LIMITS"],
        "proof": {"ip": ["100/h"]},
        **json.loads(os.environ.get("GATEHOUSE_TEST_RATE_LIMITS") or "{}"),
    },
    "AUTO_BLOCK_RULES": [],
    # pytest-django made the test database for config.settings; the stack's
    # extra app (rest_framework_api_key) migrates in the test that uses it.
    "STARTUP_MIGRATION_CHECK": False,
    "RATE_LIMIT_BATCH": os.environ.get("GATEHOUSE_TEST_RATE_LIMIT_BATCH") != "0",
    **json.loads(os.environ.get("GATEHOUSE_TEST_SETTINGS") or "{}"),
}

INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework_api_key"]

# The stack's key travels in X-Api-Key, leaving Authorization to the JWT.
API_KEY_CUSTOM_HEADER = "HTTP_X_API_KEY"

# simplejwt's own defaults (HS256, signed with SECRET_KEY), with tokens that
# outlive any bench run: the bench mints them with simplejwt's AccessToken.
SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
    "ACCESS_TOKEN_LIFETIME": timedelta(hours=2),
}

# DRF's throttles store, per ident, the list of request times in the window:
# a one-second window keeps that list as short as the rates allow (huge, so
# the bench measures 200s only).
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        "anon": "100/hour",
        "stack_ip": "100000000/s",
        "stack_subject": "100000000/s",
        "stack_lookup": "100000000/s",
        **json.loads(os.environ.get("GATEHOUSE_TEST_STACK_RATES") or "{}"),
    },
}

# A benchmark refuses thousands of requests on purpose: one log line each
# ("Too Many Requests") would drown the figures.
LOGGING = {**LOGGING, "loggers": {**LOGGING["loggers"], "django.request": {"level": "ERROR"}}}  # noqa: F405
