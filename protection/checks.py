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
- protection.W003: DRF's plain JSONParser among DEFAULT_PARSER_CLASSES: 1,000
  nested brackets are a RecursionError (a 500); use
  protection.parsers.HardenedJSONParser.
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
def check_json_parser(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from rest_framework.parsers import JSONParser
    from rest_framework.settings import api_settings

    from protection.parsers import HardenedJSONParser

    plain = [
        parser
        for parser in api_settings.DEFAULT_PARSER_CLASSES
        if issubclass(parser, JSONParser) and not issubclass(parser, HardenedJSONParser)
    ]
    return [
        checks.Warning(
            f"REST_FRAMEWORK DEFAULT_PARSER_CLASSES has {parser.__module__}.{parser.__name__}: "
            "deeply nested JSON makes it raise RecursionError (a 500).",
            hint="Use protection.parsers.HardenedJSONParser.",
            id="protection.W003",
        )
        for parser in plain
    ]
