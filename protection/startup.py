"""The startup guard: a server that cannot work stops at once, with one line saying why.

gunicorn and uWSGI run no system checks, and a worker that starts on a bad
configuration fails later, on live traffic, with a traceback per request.
``startup_guard()`` (called from the project's ``wsgi.py`` / ``asgi.py``)
refuses to start, printing one line per problem and what to do, when:

- a ``protection.E…`` or ``signup.E…`` system check fails (a malformed setting, a signing
  key that is too short or equal to ``SECRET_KEY``: E200/E201);
- the database cannot be reached (it names ``DATABASE_URL``);
- migrations are missing ("run migrate").

Management commands get the same one-line explanation for a database error
through ``database_error_explain`` (``manage.py`` prints it instead of a
traceback). The signing-key checks are registered here.
"""

import logging
import sys
from typing import Any

from django.conf import settings
from django.core import checks
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from protection.conf import gatehouse_settings

logger = logging.getLogger("gatehouse.startup")

SIGNING_KEY_MIN_LENGTH = 32
# Findings about stored data, not about this deployment's configuration: a
# malformed per-key override is ignored by requests, so it is logged at start
# rather than keeping every worker down over one database row.
DATA_CHECKS = {"protection.E011"}
# The system checks that stop a server: gatehouse's own apps' (a host
# project's checks are its own business, as with ``manage.py check``).
GUARDED_CHECKS = ("protection.", "signup.")
# A server that cannot load its application: gunicorn's "App failed to load"
# exit status, so the arbiter stops instead of restarting workers forever.
EXIT_STATUS = 4
_GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"


@checks.register(checks.Tags.security)
def check_signing_key(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """E200: the signing key is set and long enough; E201: it is not SECRET_KEY."""
    key = str(gatehouse_settings.SIGNING_KEY or "")
    if len(key) < SIGNING_KEY_MIN_LENGTH:
        return [
            checks.Error(
                f"GATEHOUSE['SIGNING_KEY'] is {len(key)} characters long; it signs every "
                f"token and keys every stored hash, so it needs at least "
                f"{SIGNING_KEY_MIN_LENGTH} random characters.",
                hint=f"Set GATEHOUSE_SIGNING_KEY to the output of {_GENERATE}.",
                id="protection.E200",
            )
        ]
    if key == settings.SECRET_KEY:
        return [
            checks.Error(
                "GATEHOUSE['SIGNING_KEY'] is the same as SECRET_KEY: a leak of one would be "
                "a leak of both.",
                hint=f"Give GATEHOUSE_SIGNING_KEY a value of its own: {_GENERATE}.",
                id="protection.E201",
            )
        ]
    return []


def database_error_explain(error: BaseException, *, alias: str = DEFAULT_DB_ALIAS) -> str | None:
    """One line saying what to do about a database error, or None if it is not ours to explain.

    Explains the two that stop a fresh deployment: the server cannot be
    reached, and tables are missing (migrations not applied).
    """
    if not isinstance(error, DatabaseError):
        return None
    first_line = (str(error).strip().splitlines() or [error.__class__.__name__])[0]
    lowered = first_line.lower()
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return (
            f"the database has no gatehouse tables yet ({first_line}): "
            "run `python manage.py migrate`."
        )
    if _is_connection_error(error, lowered):
        return (
            f"cannot reach the database {_database_label(alias)}: {first_line}. "
            "Check DATABASE_URL and that the database server is up."
        )
    return None


def _is_connection_error(error: BaseException, lowered: str) -> bool:
    from django.db import OperationalError

    if not isinstance(error, OperationalError):
        return False
    words = ("connect", "could not translate host", "unable to open database", "timeout")
    return any(word in lowered for word in words)


def _database_label(alias: str) -> str:
    """The database's engine, host, port and name: never its user or password."""
    conf = settings.DATABASES.get(alias, {})
    engine = str(conf.get("ENGINE", "")).rsplit(".", 1)[-1]
    where = ":".join(str(part) for part in (conf.get("HOST"), conf.get("PORT")) if part)
    name = str(conf.get("NAME", ""))
    return f"({engine} {where + '/' if where else ''}{name})"


def startup_problems(*, alias: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Every reason this process should not serve, one line each (empty: start).

    The configuration first (``protection.E…`` and ``signup.E…`` checks; data findings are only
    logged), then the database: reachable, then migrated.
    """
    return configuration_problems() + production_cache_problems() + database_problems(alias=alias)


def configuration_problems() -> list[str]:
    """The ``protection.E…`` and ``signup.E…`` check errors, one line each (data findings
    only logged)."""
    problems = []
    for message in checks.run_checks():
        if message.level < checks.ERROR or not str(message.id or "").startswith(GUARDED_CHECKS):
            continue
        if message.id in DATA_CHECKS:
            logger.error("%s: %s", message.id, message.msg)
            continue
        hint = f" {message.hint}" if message.hint else ""
        problems.append(f"{message.id}: {message.msg}{hint}")
    return problems


def production_cache_problems() -> list[str]:
    """A production server on a per-process cache (``protection.E220``, a deploy check
    that ``run_checks`` alone would not run)."""
    from protection.http.productionchecks import local_cache_refusal

    problem = local_cache_refusal()
    return [f"protection.E220: {problem}"] if problem else []


def database_problems(*, alias: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Whether the database answers and is migrated: one line saying what to do, or none."""
    from django.db.migrations.executor import MigrationExecutor

    connection = connections[alias]
    try:
        connection.ensure_connection()
        if not gatehouse_settings.STARTUP_MIGRATION_CHECK:
            return []
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        return [database_error_explain(error, alias=alias) or f"database error: {error}"]
    if not pending:
        return []
    names = ", ".join(f"{m.app_label}.{m.name}" for m, _backwards in pending[:3])
    more = f" and {len(pending) - 3} more" if len(pending) > 3 else ""
    return [
        f"the database has {len(pending)} unapplied migration(s) ({names}{more}): "
        "run `python manage.py migrate`."
    ]


def startup_guard() -> None:
    """Stop the process (exit status 4) with one line per problem if it should not serve."""
    problems = startup_problems()
    if problems:
        for problem in problems:
            sys.stderr.write(f"gatehouse: refusing to start: {problem}\n")
        sys.stderr.flush()
        raise SystemExit(EXIT_STATUS)
