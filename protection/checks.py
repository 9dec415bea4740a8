"""Django system checks with stable ids: misconfiguration caught before it bites.

- protection.E001: no signing key, or the development one, with DEBUG off.
- protection.E002: the development SECRET_KEY with DEBUG off.
- protection.W001: a per-process cache (local memory) with DEBUG off: limits
  and revocations would not be shared between workers.
- protection.W002: DEBUG on (deploy check).
- protection.E004: Google's published reCAPTCHA test keys with DEBUG off (they
  accept every token: reCAPTCHA would protect nothing). Deploy check.
- protection.E005: a rate in GATEHOUSE (RATE_LIMITS or a SIGNUP_*_RATE) that
  does not parse: caught at start-up rather than on the first request.
- protection.E010: PUBLIC_BASE_URL (the DPoP htu base) is not scheme://host[:port].
- protection.E011: APP_ATTEST_ENVIRONMENT is neither "production" nor "development".
- protection.W011: DPOP_ALGORITHMS names algorithms that are never accepted
  (none, HS*, unknown) or none that are.
- protection.W012: APP_ATTEST_ROOT_CA_PEM replaces Apple's root with DEBUG off
  (deploy check): a test root in production would accept forged devices.
"""

from typing import Any

from django.conf import settings
from django.core import checks

from protection.conf import gatehouse_settings

DEVELOPMENT_MARKERS = ("development", "do-not-deploy", "django-insecure")
PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


def _is_development_value(value: str) -> bool:
    return not value or any(marker in value for marker in DEVELOPMENT_MARKERS)


@checks.register(checks.Tags.security, deploy=True)
def check_secrets(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    if _is_development_value(gatehouse_settings.SIGNING_KEY):
        errors.append(
            checks.Error(
                "GATEHOUSE['SIGNING_KEY'] is empty or the development key.",
                hint="Set GATEHOUSE_SIGNING_KEY to a long random value, distinct from "
                "DJANGO_SECRET_KEY.",
                id="protection.E001",
            )
        )
    if _is_development_value(settings.SECRET_KEY):
        errors.append(
            checks.Error(
                "SECRET_KEY is the development key.",
                hint="Set DJANGO_SECRET_KEY to a long random value.",
                id="protection.E002",
            )
        )
    if settings.DEBUG:
        errors.append(
            checks.Warning(
                "DEBUG is on.", hint="Unset DJANGO_DEBUG in production.", id="protection.W002"
            )
        )
    return errors


@checks.register(checks.Tags.caches, deploy=True)
def check_shared_cache(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend in PER_PROCESS_CACHES:
        return [
            checks.Warning(
                f"The default cache ({backend}) is per process: rate limits, replay "
                "protection and revocation are not shared between workers.",
                hint="Set REDIS_URL in production.",
                id="protection.W001",
            )
        ]
    return []


@checks.register(checks.Tags.security, deploy=True)
def check_recaptcha_keys(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from django_recaptcha.constants import TEST_PRIVATE_KEY, TEST_PUBLIC_KEY

    if settings.DEBUG:
        return []
    public_key = getattr(settings, "RECAPTCHA_PUBLIC_KEY", "")
    private_key = getattr(settings, "RECAPTCHA_PRIVATE_KEY", "")
    if public_key == TEST_PUBLIC_KEY or private_key == TEST_PRIVATE_KEY:
        return [
            checks.Error(
                "reCAPTCHA uses Google's published test keys, which accept every token.",
                hint="Set RECAPTCHA_SITE_KEY and RECAPTCHA_SECRET_KEY to your own keys "
                "(or set both empty if no API key requires reCAPTCHA).",
                id="protection.E004",
            )
        ]
    return []


@checks.register()
def check_rate_settings(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.core.exceptions import ValidationError

    from protection.conf import DEFAULTS
    from protection.ratelimit import rate_limits_validate, rate_parse

    problems = []
    try:
        rate_limits_validate(gatehouse_settings.RATE_LIMITS)
    except ValidationError as exc:
        problems.append(f"RATE_LIMITS: {'; '.join(exc.messages)}")
    for name in sorted(n for n in DEFAULTS if n.startswith("SIGNUP_") and n.endswith("_RATE")):
        try:
            rate_parse(getattr(gatehouse_settings, name))
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    return [
        checks.Error(
            f"GATEHOUSE {problem}",
            hint="A rate is count/period: up to 9 digits, then s, m, h or d with an "
            "optional multiplier (10/m, 100/d, 5/15m).",
            id="protection.E005",
        )
        for problem in problems
    ]


@checks.register()
def check_dpop_and_app_attest(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from urllib.parse import urlsplit

    from protection.dpop import ASYMMETRIC_ALGORITHMS

    problems: list[checks.CheckMessage] = []
    base = gatehouse_settings.PUBLIC_BASE_URL
    if base:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
            problems.append(
                checks.Error(
                    f"GATEHOUSE PUBLIC_BASE_URL {base!r} is not scheme://host[:port].",
                    hint="Set GATEHOUSE_PUBLIC_BASE_URL to the URL clients call, e.g. "
                    "https://signup-api.example.com (no path).",
                    id="protection.E010",
                )
            )
    if gatehouse_settings.APP_ATTEST_ENVIRONMENT not in ("production", "development"):
        problems.append(
            checks.Error(
                "GATEHOUSE APP_ATTEST_ENVIRONMENT must be 'production' or 'development'.",
                id="protection.E011",
            )
        )
    algorithms = gatehouse_settings.DPOP_ALGORITHMS
    ignored = [alg for alg in algorithms if alg not in ASYMMETRIC_ALGORITHMS]
    if ignored or not algorithms:
        problems.append(
            checks.Warning(
                f"GATEHOUSE DPOP_ALGORITHMS: {ignored or 'empty'} never accepted.",
                hint=f"Use asymmetric algorithms only: {', '.join(ASYMMETRIC_ALGORITHMS)}.",
                id="protection.W011",
            )
        )
    return problems


@checks.register(checks.Tags.security, deploy=True)
def check_app_attest_root(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    if settings.DEBUG or not gatehouse_settings.APP_ATTEST_ROOT_CA_PEM:
        return []
    return [
        checks.Warning(
            "GATEHOUSE APP_ATTEST_ROOT_CA_PEM replaces Apple's App Attestation Root CA.",
            hint="Leave it empty in production unless Apple has rotated its root.",
            id="protection.W012",
        )
    ]
