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
    # --- Challenges (protection.challenges) -------------------------------
    # ALTCHA v2 proof of work. The server picks a secret counter in
    # [POW_MAX_NUMBER // 2, POW_MAX_NUMBER]; the client must find it (one
    # POW_ALGORITHM derivation per try), the server verifies with two HMACs.
    "POW_ALGORITHM": "SHA-256",
    # Cost per try (iterations of POW_ALGORITHM). Raising it slows every try.
    "POW_COST": 1,
    # Default (clean client) upper bound of the secret counter: 150,000
    # tries on average, ~0.1-0.3 s in a browser (WebCrypto, workers), ~0.35 s
    # for a CPython client, while the server verifies in ~0.1 ms.
    "POW_MAX_NUMBER": 200_000,
    # Adaptive difficulty never goes above this bound (16x the default).
    "POW_MAX_NUMBER_CAP": 3_200_000,
    # Difficulty doubles for every this many recent denials of the client IP...
    "POW_DENIALS_PER_DOUBLING_IP": 3,
    # ...or of the API key as a whole (a busy key sees more bots, so higher).
    "POW_DENIALS_PER_DOUBLING_KEY": 50,
    # A challenge must be solved and redeemed within this many seconds.
    "CHALLENGE_LIFETIME": 120,
    # Window (seconds) over which recent denials count (protection.events).
    "DENIALS_WINDOW": 15 * 60,
    # reCAPTCHA (django-recaptcha client; site/secret keys are Django's
    # RECAPTCHA_PUBLIC_KEY / RECAPTCHA_PRIVATE_KEY, timeout
    # RECAPTCHA_VERIFY_REQUEST_TIMEOUT, endpoint host RECAPTCHA_DOMAIN).
    # When Google is unreachable: False = refuse (503), True = accept.
    "RECAPTCHA_FAIL_OPEN": False,
    # Hostnames a reCAPTCHA answer may come from. Empty = the hosts of the
    # API key's allowed origins; both empty = hostname not checked.
    "RECAPTCHA_HOSTNAMES": [],
    # A reCAPTCHA token is accepted once; this long (seconds) it is remembered
    # (Google's tokens live two minutes).
    "RECAPTCHA_TOKEN_LIFETIME": 120,
    # Signing key for session tokens. Empty = derived from SIGNING_KEY (with a
    # purpose label, so a token key never equals the API-key pepper).
    "TOKEN_SIGNING_KEY": "",
    # URL prefix whose errors are rendered as application/problem+json.
    "API_PREFIX": "/api/",
    # Seconds a looked-up API key is reused by one process before it is read
    # again (capped at 1: revocations reach every process within a second).
    # 0 disables the cache.
    "API_KEY_CACHE_TTL": 1.0,
    # An API key's last_used_at is written at most once per this many seconds.
    "API_KEY_LAST_USED_INTERVAL": 60,
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
