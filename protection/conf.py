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
    # --- signup (find_person / create_person) ---------------------------------
    # Region assumed for phone numbers written without a +country prefix.
    "SIGNUP_PHONE_DEFAULT_REGION": "US",
    # Longest accepted full name, in characters (after trimming).
    "SIGNUP_FULL_NAME_MAX_LENGTH": 200,
    # Lookups one anonymous session may make in its whole life.
    "SIGNUP_LOOKUPS_PER_SESSION": 5,
    # Lookups of one identifier (email or phone) from anywhere, so one address
    # cannot be probed from many IPs or keys. "count/period" (s, m, h, d).
    "SIGNUP_LOOKUP_IDENTIFIER_RATE": "10/h",
    # Distinct identifiers looked up per client IP (IPv6: per /64) and per API
    # key. Crossing either records ``enumeration_suspected``.
    "SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE": "20/h",
    "SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE": "1000/h",
    # Create attempts one anonymous session may make in its whole life.
    "SIGNUP_CREATES_PER_SESSION": 1,
    # Create attempts per client IP (IPv6: per /64).
    "SIGNUP_CREATE_IP_RATE": "10/d",
    # Refuse addresses at disposable-mail domains (disposable-email-domains list).
    "SIGNUP_REFUSE_DISPOSABLE_EMAIL": False,
    # How long an Idempotency-Key and its stored response are kept.
    "SIGNUP_IDEMPOTENCY_TTL": 24 * 60 * 60,
}


class GatehouseSettings:
    """Attribute access to GATEHOUSE settings with documented defaults."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown gatehouse setting: {name}")
        user_settings = getattr(django_settings, "GATEHOUSE", {}) or {}
        return user_settings.get(name, DEFAULTS[name])


gatehouse_settings = GatehouseSettings()
