"""The project's environment variables: which exist, how each is read, what it means.

The ``GATEHOUSE`` settings an environment variable sets are declared in the
apps' catalogues (``protection.conf.ENVIRONMENT``, ``signup.conf.ENVIRONMENT``)
and read by ``gatehouse_from_environment``; ``PROJECT_ENVIRONMENT`` declares
the rest (Django's settings, the servers'), each with its meaning and
default as the docs' generated environment table shows them.
``config/settings.py`` reads them through ``project_env``;
``config/gunicorn.conf.py`` (loaded by gunicorn, outside Django) reads its
own ``GUNICORN_*`` ones directly.
"""

from collections.abc import Mapping
from typing import Any

from protection.base.redisurl import MODES as REDIS_MODES
from protection.conf import DEFAULTS as PROTECTION_DEFAULTS
from protection.conf import ENVIRONMENT as PROTECTION_ENVIRONMENT
from protection.environment import (
    Env,
    boolean,
    comma_list,
    env_read,
    environment_settings,
    one_of,
    text,
    whole_number_from,
)
from signup.conf import DEFAULTS as SIGNUP_DEFAULTS
from signup.conf import ENVIRONMENT as SIGNUP_ENVIRONMENT

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

PROJECT_ENVIRONMENT: list[Env] = [
    Env(
        "DJANGO_SECRET_KEY",
        default="a development key",
        meaning="Django's secret. With DEBUG off the WSGI/ASGI server **refuses to start** "
        "with the development value, and `check --deploy` fails (`protection.E002`).",
    ),
    Env(
        "DATABASE_URL",
        default="unset: SQLite in `var/gatehouse.sqlite3`",
        meaning="`postgres://user:pass@host:5432/db`: PostgreSQL through psycopg 3, "
        "persistent connections (60 s) with health checks, 3 s connect timeout",
    ),
    Env(
        "REDIS_URL",
        default="unset: local-memory cache (one process)",
        meaning="`redis://host:6379/0`: Redis as the default cache, 0.25 s socket timeouts, "
        "so a dead Redis costs milliseconds",
    ),
    Env(
        "GATEHOUSE_REDIS_MODE",
        one_of(*REDIS_MODES),
        default="`single`",
        meaning="`single`: `REDIS_URL` names one Redis; `sentinel`: it lists the sentinels "
        "(`redis://s1:26379,s2:26379/0`); `cluster`: it lists seed nodes of a Redis Cluster "
        "(`redis://n1:7000,n2:7001`). [Topologies](topologies.md)",
    ),
    Env(
        "GATEHOUSE_REDIS_SENTINEL_SERVICE",
        default="empty",
        meaning="sentinel mode: the name the sentinels monitor the primary under (required there)",
    ),
    Env(
        "GATEHOUSE_REDIS_SENTINEL_PASSWORD",
        default="empty",
        meaning="sentinel mode: the sentinels' own password, if they have one (the "
        "primary's is in `REDIS_URL`)",
    ),
    Env(
        "DATABASE_REPLICA_URLS",
        comma_list,
        default="empty",
        meaning="comma-separated URLs of PostgreSQL streaming replicas: the lookup reads from "
        "one ([topologies](topologies.md#postgresql-read-replicas))",
    ),
    Env(
        "DATABASE_POOLING",
        one_of("none", "transaction"),
        default="`none`",
        meaning="`transaction` behind PgBouncer in transaction pooling: no server-side "
        "cursors, no prepared statements "
        "([topologies](topologies.md#pgbouncer-transaction-pooling))",
    ),
    Env(
        "DATABASE_CONN_MAX_AGE",
        whole_number_from(0),
        default="`60`",
        meaning="seconds a process keeps its database connection (0: one per request)",
    ),
    Env(
        "DJANGO_ALLOWED_HOSTS",
        comma_list,
        default="`127.0.0.1,localhost,testserver`",
        meaning="host names this server answers for",
    ),
    Env(
        "DJANGO_DEBUG",
        boolean,
        default="off",
        meaning="on for local development only (`make run` sets it)",
    ),
    Env(
        "GATEHOUSE_LOG_FORMAT",
        one_of("json", "text"),
        default="`json`",
        meaning="`json`: one JSON object per log line with time, level, logger, request id, "
        "client IP, key public id, session id and event fields "
        "([metrics and logs](metrics-and-logs.md)); `text` for a terminal",
    ),
    Env(
        "DJANGO_LOG_LEVEL",
        one_of(*LOG_LEVELS),
        default="`WARNING`",
        meaning="level of the root logger",
    ),
    Env(
        "GATEHOUSE_LOG_LEVEL",
        one_of(*LOG_LEVELS),
        default="`INFO`",
        meaning="level of gatehouse's loggers (security events are logged at INFO by "
        "`gatehouse.events`)",
    ),
    Env(
        "PROMETHEUS_MULTIPROC_DIR",
        default="unset: one process",
        meaning="a writable directory shared by the gunicorn workers, so `/metrics` adds up "
        "every worker ([metrics and logs](metrics-and-logs.md))",
    ),
    Env(
        "GATEHOUSE_ADMIN_LOGIN_FAILURES",
        whole_number_from(1),
        default="`5`",
        meaning="failed admin logins of one username from one address before django-axes "
        "locks that pair out (attempts per address, the outside clients' budget and a short "
        "per-username lockout: `ADMIN_LOGIN_*` settings)",
    ),
    Env(
        "GATEHOUSE_ADMIN_LOCKOUT_HOURS",
        whole_number_from(1),
        default="`1`",
        meaning="how long (hours) an admin lockout lasts, never extended by attempts during "
        "it (`manage.py axes_reset` lifts it)",
    ),
    Env(
        "GATEHOUSE_CACHE_PREFIX",
        default="`gh`",
        meaning="Redis key prefix (several deployments on one Redis)",
    ),
    Env("GATEHOUSE_DATA_DIR", default="`./var`", meaning="where the SQLite file lives"),
    Env(
        "RECAPTCHA_SITE_KEY",
        default="Google's test key under DEBUG, else empty",
        meaning="reCAPTCHA site key (test keys in production: `protection.E004`; without "
        "keys, API keys that require reCAPTCHA are refused with 503 `recaptcha_unavailable`)",
        empty_is_value=True,
    ),
    Env(
        "RECAPTCHA_SECRET_KEY",
        default="Google's test key under DEBUG, else empty",
        meaning="reCAPTCHA secret key, as above",
        empty_is_value=True,
    ),
    Env(
        "RECAPTCHA_TIMEOUT",
        whole_number_from(0),
        default="`3`",
        meaning="siteverify timeout (whole seconds)",
    ),
    Env(
        "RECAPTCHA_DOMAIN",
        default="`www.google.com`",
        meaning="siteverify host (`www.recaptcha.net` where Google is blocked)",
    ),
    Env(
        "DJANGO_EMAIL_BACKEND",
        default="`smtp` (DEBUG: `console`)",
        meaning="how mail is sent by the outbox: `smtp`, `console`, `file`, `locmem`, "
        "`dummy` or a dotted backend path ([outbox](outbox.md))",
    ),
    Env("DJANGO_EMAIL_FILE_PATH", default="unset", meaning="the `file` backend's directory"),
    Env("DJANGO_EMAIL_HOST", default="`localhost`", meaning="SMTP server"),
    Env("DJANGO_EMAIL_PORT", whole_number_from(1), default="`25`", meaning="SMTP port"),
    Env("DJANGO_EMAIL_HOST_USER", default="empty", meaning="SMTP user"),
    Env("DJANGO_EMAIL_HOST_PASSWORD", default="empty", meaning="SMTP password"),
    Env(
        "DJANGO_EMAIL_USE_TLS",
        boolean,
        default="off",
        meaning="STARTTLS (usually port 587)",
    ),
    Env("DJANGO_EMAIL_USE_SSL", boolean, default="off", meaning="implicit TLS (usually 465)"),
    Env(
        "DJANGO_EMAIL_TIMEOUT",
        whole_number_from(1),
        default="`10`",
        meaning="seconds an SMTP exchange may take (it delays the outbox sender, never a request)",
    ),
    Env(
        "DJANGO_DEFAULT_FROM_EMAIL",
        default="`gatehouse@localhost`",
        meaning="the sender of every mail",
    ),
    Env(
        "DJANGO_SECURE_SSL_REDIRECT",
        boolean,
        default="on unless DEBUG",
        meaning="redirect HTTP to HTTPS (`/api/v1/health` and `/metrics` are exempt)",
    ),
    Env(
        "DJANGO_BEHIND_TLS_PROXY",
        boolean,
        default="off",
        meaning="trust `X-Forwarded-Proto: https` from the proxy",
    ),
    Env(
        "DJANGO_HSTS_SECONDS",
        whole_number_from(0),
        default="one year (DEBUG: 0)",
        meaning="HSTS max-age",
    ),
    Env(
        "DJANGO_HSTS_PRELOAD",
        boolean,
        default="on (DEBUG: off)",
        meaning="HSTS preload",
    ),
    Env(
        "DJANGO_CSRF_TRUSTED_ORIGINS",
        comma_list,
        default="none",
        meaning="for the admin behind a proxy",
    ),
    Env(
        "DJANGO_STATIC_ROOT",
        default="unset",
        meaning="only for `collectstatic`; static files (admin, Swagger UI) are otherwise "
        "served by WhiteNoise from the installed packages",
    ),
    # Read by config/gunicorn.conf.py, the production gunicorn settings behind nginx.
    Env("GUNICORN_BIND", default="`127.0.0.1:8000`", meaning="gunicorn's listening address"),
    Env(
        "GUNICORN_CONTROL_SOCKET",
        default="unset: off",
        meaning="a path of this instance's own for gunicorn's control socket (`gunicornc`); "
        "off by default, since its default path is shared by every instance of the user",
    ),
    Env("GUNICORN_WORKERS", whole_number_from(1), default="`4`", meaning="gunicorn workers"),
    Env(
        "GUNICORN_TIMEOUT",
        whole_number_from(1),
        default="`30`",
        meaning="seconds before a silent worker is restarted",
    ),
    Env(
        "GUNICORN_MAX_REQUESTS",
        whole_number_from(0),
        default="`10000`",
        meaning="requests before a worker is recycled (with jitter)",
    ),
    Env(
        "GUNICORN_FORWARDED_ALLOW_IPS",
        text,
        default="loopback",
        meaning="proxies whose forwarded headers gunicorn trusts ([hardening](hardening.md))",
    ),
]

_BY_NAME = {env.variable: env for env in PROJECT_ENVIRONMENT}


def project_env(variable: str, default: Any) -> Any:
    """The parsed value of a declared project variable, or ``default`` when unset."""
    return env_read(_BY_NAME[variable], default)


# The GATEHOUSE settings whose default this project replaces (values in
# config/settings.py), as the environment table states them.
PROJECT_DEFAULTS_DOC = {
    "SIGNING_KEY": "a development key: with DEBUG off the server **refuses to start** "
    "with it, and `check --deploy` fails (`protection.E001`)",
    "SIGNUP_PAGE_ENABLED": "on under DEBUG, else off",
}


def gatehouse_from_environment(project_defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Every GATEHOUSE setting the apps' catalogues let a variable set: the
    variable's value when set, else ``project_defaults`` or the catalogue's."""
    assert set(project_defaults) == set(PROJECT_DEFAULTS_DOC), "document each project default"
    return {
        **environment_settings(PROTECTION_ENVIRONMENT, {**PROTECTION_DEFAULTS, **project_defaults}),
        **environment_settings(SIGNUP_ENVIRONMENT, {**SIGNUP_DEFAULTS, **project_defaults}),
    }
