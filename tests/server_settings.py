"""Settings for tests and benchmarks that start real gunicorn workers.

The project settings (DATABASE_URL, REDIS_URL, ... from the environment),
plus the test-only endpoints of ``tests.server_urls``, limits for them, no
automatic blocking (a benchmark's 429s must not turn into blocks), and DRF's
``AnonRateThrottle`` at the same 100/hour for the side-by-side comparison.
``GATEHOUSE_TEST_RATE_LIMITS`` (JSON, group -> dimension -> rates) adds to
or replaces groups; ``GATEHOUSE_TEST_SETTINGS`` (JSON, name -> value)
replaces any other GATEHOUSE entry, e.g. the sign-up business limits for a
benchmark that must measure 200s only.
"""

import json
import os

from config.settings import *  # noqa: F403
from config.settings import GATEHOUSE, REST_FRAMEWORK
from protection.conf import DEFAULTS

ROOT_URLCONF = "tests.server_urls"

GATEHOUSE = {
    **GATEHOUSE,
    "RATE_LIMITS": {
        **DEFAULTS["RATE_LIMITS"],
        "proof": {"ip": ["100/h"]},
        **json.loads(os.environ.get("GATEHOUSE_TEST_RATE_LIMITS") or "{}"),
    },
    "AUTO_BLOCK_RULES": [],
    "RATE_LIMIT_BATCH": os.environ.get("GATEHOUSE_TEST_RATE_LIMIT_BATCH") != "0",
    **json.loads(os.environ.get("GATEHOUSE_TEST_SETTINGS") or "{}"),
}

REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "100/hour"}}

# A benchmark refuses thousands of requests on purpose: one log line each
# ("Too Many Requests") would drown the figures.
LOGGING = {**LOGGING, "loggers": {**LOGGING["loggers"], "django.request": {"level": "ERROR"}}}  # noqa: F405
