"""Helpers for tests that start real server processes next to pytest's database."""

from django.db import connection


def database_url() -> str:
    """The test database pytest-django created, as a URL for server processes."""
    params = connection.settings_dict
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{params['USER']}{password}@{host}:{port}/{params['NAME']}"
