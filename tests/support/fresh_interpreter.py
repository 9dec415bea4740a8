"""Run Python code in a fresh interpreter with the project settings and a
chosen environment: how settings, startup guards and import-time behaviour
are checked without the test process's own settings leaking in."""

import os
import subprocess
import sys

from tests.support.paths import ROOT

PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "x" * 20 + "production-secret-key-0123456789-abcdefghijkl",
    "GATEHOUSE_SIGNING_KEY": "y" * 20 + "production-signing-key-0123456789-abcdefghij",
    "DJANGO_ALLOWED_HOSTS": "gatehouse.example",
    "REDIS_URL": "redis://127.0.0.1:6379/9",
}
SETTINGS_ENV_NAMES = (
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_DEBUG",
    "DJANGO_SECRET_KEY",
    "GATEHOUSE_SIGNING_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "GATEHOUSE_TRUSTED_PROXIES",
    "DJANGO_HSTS_SECONDS",
    "GATEHOUSE_METRICS_NETWORKS",
    "GATEHOUSE_LOG_FORMAT",
    "GATEHOUSE_LOG_LEVEL",
    "DJANGO_LOG_LEVEL",
    "GATEHOUSE_REDIS_MODE",
    "GATEHOUSE_REDIS_SENTINEL_SERVICE",
    "GATEHOUSE_REDIS_SENTINEL_PASSWORD",
    "DATABASE_REPLICA_URLS",
    "DATABASE_POOLING",
    "GATEHOUSE_LOOKUP_READS",
)


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV_NAMES}
    clean.update({"DJANGO_SETTINGS_MODULE": "config.settings", **env})
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
