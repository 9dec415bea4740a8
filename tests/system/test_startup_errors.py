"""A process that cannot work stops with one line saying what to do, never a traceback.

Real processes: gunicorn with the documented config (the startup guard in
config/wsgi.py), and manage.py commands.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from tests.support.processes import manage, process_env

pytestmark = pytest.mark.server


def gunicorn(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Start gunicorn with the production config; it must exit on its own."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "config" / "gunicorn.conf.py"),
            "config.wsgi:application",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_clear_line(result: subprocess.CompletedProcess, *needles: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("gatehouse: ")]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_a_signing_key_that_is_too_short_stops_gunicorn(env_for):
    result = gunicorn(env_for(GATEHOUSE_SIGNING_KEY="short"))
    assert result.returncode == 4  # "App failed to load": the arbiter stops
    one_clear_line(result, "refusing to start", "protection.E200", "GATEHOUSE_SIGNING_KEY", "32")


def test_a_signing_key_equal_to_the_secret_key_stops_gunicorn(env_for):
    same = "one-value-for-both-keys-" + "z" * 40
    result = gunicorn(env_for(GATEHOUSE_SIGNING_KEY=same, DJANGO_SECRET_KEY=same))
    one_clear_line(result, "protection.E201", "SECRET_KEY")


def test_an_unmigrated_database_stops_gunicorn(tmp_path: Path):
    result = gunicorn(process_env(tmp_path))  # a fresh, empty SQLite file
    one_clear_line(result, "unapplied migration", "run `python manage.py migrate`")


def test_an_unreachable_database_stops_gunicorn(env_for):
    result = gunicorn(env_for(DATABASE_URL="postgres://gatehouse@127.0.0.1:1/gatehouse"))
    line = one_clear_line(result, "cannot reach the database", "DATABASE_URL", "127.0.0.1:1")
    assert "gatehouse@" not in line  # the URL's user (and password) are not repeated


def test_a_command_on_an_unreachable_database_says_which_setting(env_for):
    result = manage(env_for(DATABASE_URL="postgres://u:secret@127.0.0.1:1/db"), "migrate")
    line = one_clear_line(result, "cannot reach the database", "DATABASE_URL")
    assert "secret" not in line


def test_a_command_on_an_unmigrated_database_says_run_migrate(tmp_path: Path):
    result = manage(process_env(tmp_path), "create_api_key", "--name", "x")
    one_clear_line(result, "run `python manage.py migrate`")


def test_a_redis_url_with_another_scheme_is_named(env_for):
    result = manage(env_for(REDIS_URL="http://user:hunter2@cache.example:6379/0"), "check")
    line = one_clear_line(result, "REDIS_URL", "redis://", "'http'")
    assert "hunter2" not in line


def test_a_missing_prometheus_directory_is_named(env_for, tmp_path: Path):
    missing = tmp_path / "not-made"
    result = manage(env_for(PROMETHEUS_MULTIPROC_DIR=str(missing)), "check")
    one_clear_line(result, "PROMETHEUS_MULTIPROC_DIR", str(missing), "Create it")
