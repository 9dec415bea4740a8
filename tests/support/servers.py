"""Helpers for tests that start real server processes next to pytest's database.

What a started server connects to is derived from the configured services:
the test database pytest-django made from ``DATABASE_URL`` (its host, port,
user and name), and the host, port and db of ``REDIS_URL``, never a fixed
database or Redis db.
"""

from urllib.parse import urlsplit, urlunsplit

from django.db import connection


def database_url() -> str:
    """The test database pytest-django created, as a URL for server processes."""
    params = connection.settings_dict
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{params['USER']}{password}@{host}:{port}/{params['NAME']}"


def url_address(url: str, default_port: int) -> tuple[str, int]:
    """The host and port ``url`` connects to (e.g. to put a proxy in front)."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def url_via(url: str, *, host: str, port: int) -> str:
    """``url`` reaching the same database through ``host:port`` (a proxy)."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@{host}:{port}" if credentials else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))
