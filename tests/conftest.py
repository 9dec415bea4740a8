"""Shared fixtures. Tests marked ``postgres`` / ``redis`` need those services
(DATABASE_URL / REDIS_URL set, as .ci/run sets them) and are skipped, with
the reason shown, on the embedded SQLite / local-memory defaults; the run
ends with one line saying what was skipped and why.

Where tests go (tests/test_layout.py checks it): ``tests/<package>/…``
mirroring the code, every test that starts a process (server, browser,
network namespace, wheel build) in ``tests/system/`` with its marker, every
helper module in ``tests/support/``. Each xdist worker has its own
database (pytest-django) and its own cache key prefix (tests.support.cache).
"""

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.hashers import reset_hashers
from rest_framework.test import APIClient

from protection.keys import ApiKey, api_key_create
from protection.sessions import IssuedSession, session_issue
from tests.support.cache import cache_clear, cache_isolate_worker
from tests.support.skips import skipped_summary

USING_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
USING_REDIS = "RedisCache" in settings.CACHES["default"]["BACKEND"]
cache_isolate_worker()
# Django's own advice for test suites: the production hasher (PBKDF2, a
# million rounds) costs a third of a second per staff user made, and the
# admin tests make one each. What is tested is who may log in, not PBKDF2.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
reset_hashers(setting="PASSWORD_HASHERS")
# Every test client builds the middleware anew, and WhiteNoise's would index
# every static file (admin, Swagger UI) each time: a quarter of the suite's
# time. Looked up per request instead, as under DEBUG; served the same.
settings.WHITENOISE_AUTOREFRESH = True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "postgres" in item.keywords and not USING_POSTGRES:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)"))
        if "redis" in item.keywords and not USING_REDIS:
            item.add_marker(pytest.mark.skip(reason="needs Redis (set REDIS_URL)"))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """One line: how many tests were skipped, grouped by what they need."""
    line = skipped_summary(
        terminalreporter.stats.get("skipped", []),
        deselected=len(terminalreporter.stats.get("deselected", [])),
        markexpr=config.getoption("markexpr", ""),
        ignored=config.getoption("ignore") or (),
    )
    terminalreporter.write_line(line, bold=True)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """On SQLite, the test database is a file, as under ``make run``.

    Django's default test database on SQLite is an in-memory one in shared-cache
    mode, whose locks are per table and fail at once ("database table is
    locked", SQLITE_LOCKED: the busy timeout does not apply). A live server
    thread writing while the test thread (or another server thread) reads then
    answered 503, about one browser test run in three. A file database has
    SQLite's ordinary locks, which wait up to the connection's timeout.
    """
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        name = tmp_path_factory.mktemp("sqlite") / "test_gatehouse.sqlite3"
        database.setdefault("TEST", {})["NAME"] = str(name)


@pytest.fixture(autouse=True)
def _plain_http(settings: Any) -> None:
    """The test client speaks plain HTTP; production redirects it to HTTPS."""
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache_clear()
    yield
    cache_clear()


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_api_key(db: Any) -> Callable[..., tuple[ApiKey, str]]:
    """Create a key (all scopes, proof of work required unless told otherwise)."""

    def factory(**fields: Any) -> tuple[ApiKey, str]:
        fields.setdefault("name", "test app")
        return api_key_create(**fields)

    return factory


@pytest.fixture
def api_key(make_api_key: Callable[..., tuple[ApiKey, str]]) -> tuple[ApiKey, str]:
    return make_api_key()


@pytest.fixture
def make_session(db: Any) -> Callable[..., IssuedSession]:
    def factory(api_key: ApiKey, **fields: Any) -> IssuedSession:
        fields.setdefault("client_ip", "127.0.0.1")
        return session_issue(api_key=api_key, **fields)

    return factory


@pytest.fixture(autouse=True)
def _fresh_protection_state() -> Iterator[None]:
    """Per-process state (memos, local counters, compiled blocks, the key
    cache) must not leak between tests: every owner registered its reset."""
    from protection.base.processstate import process_state_reset
    from protection.netintel.registry import stale_alert

    process_state_reset()
    # Most tests run without network-origin data: its once-an-hour alert
    # would be one more event in each (tests/protection/netintel resets it).
    stale_alert.due(time.monotonic())
    yield
    process_state_reset()
