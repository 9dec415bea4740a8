"""Real processes on a project of their own: SQLite in a temporary data directory
(``process_env``, ``manage``, and the fixtures ``migrated_data_dir`` / ``env_for``
that tests/system/conftest.py exposes)."""

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.paths import ROOT


def process_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """This checkout's project settings on SQLite in ``data_dir`` and the local-memory
    cache; nothing from the caller's."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "GATEHOUSE_", "DATABASE_", "REDIS_", "PROMETHEUS_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_SECRET_KEY": "system-test-secret-key-" + "s" * 40,
            "GATEHOUSE_SIGNING_KEY": "system-test-signing-key-" + "k" * 40,
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "GATEHOUSE_DATA_DIR": str(data_dir),
            # Empty, not absent: a server started over os.environ (as
            # GunicornServer is) would otherwise use the caller's (CI's
            # unmigrated database, for one).
            "DATABASE_URL": "",
            "REDIS_URL": "",
            # The local-memory cache, deliberately (these processes need no
            # Redis); without it a production server refuses to start (E220).
            "GATEHOUSE_ALLOW_LOCAL_CACHE": "1",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def migrated_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose SQLite database is migrated (once per module)."""
    data_dir = tmp_path_factory.mktemp("data")
    result = manage(process_env(data_dir), "migrate", "-v", "0")
    assert result.returncode == 0, result.stderr
    return data_dir


@pytest.fixture
def env_for(migrated_data_dir: Path) -> Callable[..., dict[str, str]]:
    return lambda **overrides: process_env(migrated_data_dir, **overrides)
