"""Health of the backing services: the database and the shared cache."""

import logging
import uuid

from django.core.cache import cache
from django.db import connection

from protection.conf import gatehouse_settings

logger = logging.getLogger("gatehouse.health")


def database_status() -> str:
    """Return "ok" if a trivial query succeeds, else "unavailable"."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any driver error means "down" to a health probe
        logger.warning("Database health check failed", exc_info=True)
        connection.close()  # the next request reconnects instead of reusing a dead socket
        return "unavailable"
    return "ok"


def cache_status() -> str:
    """Return "ok" if a value can be written to and read back from the cache."""
    probe_key = f"gatehouse:health:{uuid.uuid4().hex}"
    try:
        cache.set(probe_key, "1", timeout=5)
        ok = cache.get(probe_key) == "1"
        cache.delete(probe_key)
    except Exception:  # any client error means "down" to a health probe
        logger.warning("Cache health check failed", exc_info=True)
        return "unavailable"
    return "ok" if ok else "unavailable"


def health_report() -> dict[str, str]:
    """Return the status of every backing service."""
    return {"database": database_status(), "cache": cache_status()}


def health_status(report: dict[str, str]) -> str | None:
    """The readiness word for ``report``: "ok", "degraded", or None (not ready).

    The database is always needed. The shared cache is needed only when a
    cache failure refuses requests (``RATE_LIMIT_CACHE_FAILURE = "closed"``);
    with ``"local"`` the instance serves on per-process counters meanwhile.
    """
    if report["database"] != "ok":
        return None
    if report["cache"] == "ok":
        return "ok"
    return "degraded" if gatehouse_settings.RATE_LIMIT_CACHE_FAILURE == "local" else None
