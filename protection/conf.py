"""The one settings object of the protection app.

Every value is read from ``settings.GATEHOUSE`` on each access, falling back
to ``DEFAULTS``, so ``override_settings(GATEHOUSE={...})`` works in tests and
nothing is copied at import time. Durations are seconds.
"""

from typing import Any

from django.conf import settings as django_settings

DEFAULTS: dict[str, Any] = {
    # Key used to sign tokens and challenges and to key the hashes of API key
    # secrets and looked-up identifiers. Separate from SECRET_KEY.
    "SIGNING_KEY": "",
    # Pepper for the HMAC of API key secrets. Empty = derived from SIGNING_KEY.
    # Changing it invalidates every stored API key.
    "API_KEY_PEPPER": "",
    # How many reverse proxies stand in front of gatehouse and append to
    # X-Forwarded-For. 0 = trust no forwarded header, use REMOTE_ADDR.
    "TRUSTED_PROXIES": 0,
    # IPv6 clients share one rate-limit bucket per prefix of this length.
    "IPV6_GROUP_PREFIX": 64,
    # Largest request body accepted under /api/ (413 above it).
    "MAX_BODY_BYTES": 16 * 1024,
    # Anonymous sessions and their tokens (simplejwt, one pinned algorithm).
    "TOKEN_ALGORITHM": "HS256",
    "TOKEN_ISSUER": "gatehouse",
    "TOKEN_AUDIENCE": "gatehouse-signup",
    "ACCESS_TOKEN_LIFETIME": 5 * 60,
    "REFRESH_TOKEN_LIFETIME": 30 * 60,
    "SESSION_LIFETIME": 2 * 60 * 60,
    # URL prefix whose errors are rendered as application/problem+json.
    "API_PREFIX": "/api/",
    # Seconds a looked-up API key is reused by one process before it is read
    # again (capped at 1: revocations reach every process within a second).
    # 0 disables the cache.
    "API_KEY_CACHE_TTL": 1.0,
    # An API key's last_used_at is written at most once per this many seconds.
    "API_KEY_LAST_USED_INTERVAL": 60,
}


class GatehouseSettings:
    """Attribute access to GATEHOUSE settings with documented defaults."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown gatehouse setting: {name}")
        user_settings = getattr(django_settings, "GATEHOUSE", {}) or {}
        return user_settings.get(name, DEFAULTS[name])


gatehouse_settings = GatehouseSettings()
