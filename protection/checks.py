"""Django system checks with stable ids: misconfiguration caught before it bites.

- protection.E001: no signing key, or the development one, with DEBUG off.
- protection.E002: the development SECRET_KEY with DEBUG off.
- protection.W001: a per-process cache (local memory) with DEBUG off: limits
  and revocations would not be shared between workers.
- protection.W002: DEBUG on (deploy check).
- protection.E004: Google's published reCAPTCHA test keys with DEBUG off (they
  accept every token: reCAPTCHA would protect nothing). Deploy check.
- protection.E005: a rate in GATEHOUSE (RATE_LIMITS or any registered *_RATE) that
  does not parse: caught at start-up rather than on the first request.
- protection.E006: an Approov secret (APPROOV_SECRET or one of
  APPROOV_SECRETS) that is not base64 / base64url or decodes to under 32
  bytes, or an APPROOV_PUBLIC_KEY that does not load or whose algorithm
  is not an asymmetric one.
- protection.E007: App Check settings that cannot work: a project number
  that is not digits, or a JWKS URL that is not https (http only to loopback).
- protection.W010: a GATEHOUSE key that no setting has (a typo is otherwise
  silently ignored and the default applies).
- protection.E010: a malformed AUTO_BLOCK_RULES entry (it would otherwise
  fail on every denial, logged and swallowed, and never block).
- protection.E011: an API key whose stored rate_limit_overrides are malformed
  (written around the admin's validator; requests ignore them). Read from
  the database; skipped while its tables do not exist yet.
- protection.E012: GATEHOUSE is not a dict.
- protection.E013: PUBLIC_BASE_URL (the DPoP htu base) is not scheme://host[:port].
- protection.E014: APP_ATTEST_ENVIRONMENT is neither "production" nor "development".
- protection.W013: DPOP_ALGORITHMS names algorithms that are never accepted
  (none, HS*, unknown) or none that are.
- protection.W014: APP_ATTEST_ROOT_CA_PEM replaces Apple's root with DEBUG off
  (deploy check): a test root in production would accept forged devices.
- protection.W003: DRF's plain JSONParser among DEFAULT_PARSER_CLASSES: 1,000
  nested brackets are a RecursionError (a 500); use
  protection.parsers.HardenedJSONParser.
"""

import difflib
import logging
from collections.abc import Mapping
from typing import Any, cast

from django.conf import settings
from django.core import checks

from protection.conf import gatehouse_settings, known_setting_names

logger = logging.getLogger("gatehouse.checks")

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

    from protection.conf import REGISTERED_SETTINGS, GatehouseSettings
    from protection.core.ratelimit import rate_limits_validate, rate_parse

    problems = []
    try:
        rate_limits_validate(gatehouse_settings.RATE_LIMITS)
    except ValidationError as exc:
        problems.append(f"RATE_LIMITS: {'; '.join(exc.messages)}")
    for defaults in REGISTERED_SETTINGS.values():
        values = GatehouseSettings(defaults)
        for name in sorted(n for n in defaults if n.endswith("_RATE")):
            try:
                rate_parse(getattr(values, name))
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
def check_attestation_settings(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from urllib.parse import urlsplit

    from protection.attestation.approov import (
        ASYMMETRIC_ALGORITHMS,
        MIN_SECRET_BYTES,
        approov_public_key,
        approov_secret_decode,
    )

    errors: list[checks.CheckMessage] = []
    secrets = {"APPROOV_SECRET": gatehouse_settings.APPROOV_SECRET}
    for name, value in (gatehouse_settings.APPROOV_SECRETS or {}).items():
        secrets[f"APPROOV_SECRETS[{name!r}]"] = value
    for label, value in secrets.items():
        if not value:
            continue
        try:
            approov_secret_decode(value)
        except ValueError as exc:
            errors.append(
                checks.Error(
                    f"GATEHOUSE {label} is not a usable Approov secret ({exc}).",
                    hint=f"Paste the account secret as Approov prints it: base64 or "
                    f"base64url of at least {MIN_SECRET_BYTES} bytes.",
                    id="protection.E006",
                )
            )
    pem = gatehouse_settings.APPROOV_PUBLIC_KEY
    algorithm = gatehouse_settings.APPROOV_PUBLIC_KEY_ALGORITHM
    if pem or algorithm:
        problem = ""
        if algorithm not in ASYMMETRIC_ALGORITHMS:
            problem = f"APPROOV_PUBLIC_KEY_ALGORITHM {algorithm!r} is not asymmetric"
        else:
            try:
                approov_public_key(pem)
            except (ValueError, TypeError) as exc:
                problem = f"APPROOV_PUBLIC_KEY does not load as a PEM public key ({exc})"
        if problem:
            errors.append(
                checks.Error(
                    f"GATEHOUSE {problem}.",
                    hint="Set both, e.g. ES256 and the PEM of the account's public key, "
                    "or neither.",
                    id="protection.E006",
                )
            )
    number = str(gatehouse_settings.APPCHECK_PROJECT_NUMBER or "")
    if number and not (number.isascii() and number.isdigit()):
        errors.append(
            checks.Error(
                "GATEHOUSE APPCHECK_PROJECT_NUMBER is not a Firebase project number.",
                hint="Use the project number (digits, Firebase console > Project "
                "settings), not the project id.",
                id="protection.E007",
            )
        )
    url = urlsplit(str(gatehouse_settings.APPCHECK_JWKS_URL or ""))
    loopback = url.hostname in ("127.0.0.1", "::1", "localhost")
    if not (url.scheme == "https" or (url.scheme == "http" and loopback)):
        errors.append(
            checks.Error(
                "GATEHOUSE APPCHECK_JWKS_URL must be an https URL.",
                hint="Leave GATEHOUSE_APPCHECK_JWKS_URL unset for Google's "
                "https://firebaseappcheck.googleapis.com/v1/jwks.",
                id="protection.E007",
            )
        )
    return errors


@checks.register()
def check_unknown_settings(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    user_settings = getattr(settings, "GATEHOUSE", None) or {}
    if not isinstance(user_settings, Mapping):
        return [checks.Error("GATEHOUSE must be a dict of settings.", id="protection.E012")]
    warnings: list[checks.CheckMessage] = []
    known = known_setting_names()  # protection's and every registered app's (signup's)
    for name in sorted(str(n) for n in user_settings if n not in known):
        close = difflib.get_close_matches(name, known, n=1)
        warnings.append(
            checks.Warning(
                f"GATEHOUSE[{name!r}] is not a gatehouse setting; it is ignored.",
                hint=f"Did you mean {close[0]!r}?" if close else "See protection/conf.py.",
                id="protection.W010",
            )
        )
    return warnings


AUTO_BLOCK_DIMENSIONS = ("ip", "session", "device", "key")
# field -> (required, smallest value); all whole numbers except escalation.
_RULE_NUMBERS = {
    "threshold": (True, 1),
    "window": (True, 1),
    "duration": (True, 1),
    "escalation": (False, 1),
    "max_duration": (False, 1),
    "difficulty_boost": (False, 1),
}
_RULE_FIELDS = {"name", "dimension", "kinds", "dry_run", *_RULE_NUMBERS}


def _is_number(value: Any, *, whole: bool) -> bool:
    if isinstance(value, bool):  # True is an int to Python, never a threshold to a reader
        return False
    return isinstance(value, int) or (not whole and isinstance(value, float))


def auto_block_rule_problems(rule: Any) -> list[str]:
    """Return what is wrong with one AUTO_BLOCK_RULES entry (empty when it is well formed)."""
    if not isinstance(rule, Mapping):
        return ["expected an object with name, dimension, kinds, threshold, window, duration"]
    problems = [f"unknown field {field!r}" for field in sorted(set(rule) - _RULE_FIELDS)]
    name = rule.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        problems.append("name: a non-empty string of at most 64 characters")
    if rule.get("dimension") not in AUTO_BLOCK_DIMENSIONS:
        problems.append(
            f"dimension: {rule.get('dimension')!r} is not one of {', '.join(AUTO_BLOCK_DIMENSIONS)}"
        )
    kinds = rule.get("kinds")
    if (
        not isinstance(kinds, list | tuple)
        or not kinds
        or not all(isinstance(kind, str) and kind for kind in kinds)
    ):
        problems.append("kinds: a non-empty list of event kinds or reasons")
    for field, (required, minimum) in _RULE_NUMBERS.items():
        if field not in rule:
            if required:
                problems.append(f"{field}: missing")
            continue
        value = rule[field]
        if not _is_number(value, whole=field != "escalation") or value < minimum:
            kind = "a number" if field == "escalation" else "a whole number"
            problems.append(f"{field}: {value!r} is not {kind} of at least {minimum}")
    if (
        _is_number(rule.get("max_duration"), whole=True)
        and _is_number(rule.get("duration"), whole=True)
        and rule["max_duration"] < rule["duration"]
    ):
        problems.append("max_duration: smaller than duration")
    if "dry_run" in rule and not isinstance(rule["dry_run"], bool):
        problems.append(f"dry_run: {rule['dry_run']!r} is not true or false")
    if "difficulty_boost" in rule and rule.get("dimension") != "key":
        problems.append("difficulty_boost: only rules on the key dimension raise difficulty")
    return problems


@checks.register()
def check_auto_block_rules(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    rules = gatehouse_settings.AUTO_BLOCK_RULES
    hint = (
        "Each rule: name, dimension (ip, session, device or key), kinds (list), threshold, "
        "window and duration (seconds); optional escalation, max_duration, difficulty_boost."
    )
    if not isinstance(rules, list | tuple):
        return [checks.Error("GATEHOUSE AUTO_BLOCK_RULES must be a list.", id="protection.E010")]
    errors: list[checks.CheckMessage] = []
    names: set[str] = set()
    for index, rule in enumerate(rules):
        label = rule.get("name") if isinstance(rule, Mapping) else None
        where = f"AUTO_BLOCK_RULES[{index}]" + (f" ({label!r})" if label else "")
        problems = auto_block_rule_problems(rule)
        if isinstance(label, str) and label in names:
            problems.append("name: used by an earlier rule (escalation counts by name)")
        names.add(label if isinstance(label, str) else "")
        if problems:
            errors.append(
                checks.Error(
                    f"GATEHOUSE {where}: {'; '.join(problems)}", hint=hint, id="protection.E010"
                )
            )
    return errors


@checks.register()
def check_rate_limit_overrides(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.core.exceptions import ValidationError

    from protection.core.ratelimit.rates import validate_rate_limit_overrides
    from protection.keys.models import ApiKey

    try:
        stored = list(
            ApiKey.objects.filter(revoked_at__isnull=True)
            .exclude(rate_limit_overrides={})
            .values_list("public_id", "name", "rate_limit_overrides")
        )
    except Exception:  # no tables yet (before migrate), no database, or no access in tests
        logger.debug("rate-limit overrides not checked", exc_info=True)
        return []
    errors: list[checks.CheckMessage] = []
    for public_id, name, overrides in stored:
        try:
            validate_rate_limit_overrides(overrides)
        except ValidationError as exc:
            errors.append(
                checks.Error(
                    f"API key {name!r} ({public_id}): rate_limit_overrides are malformed: "
                    f"{'; '.join(exc.messages)}. Requests ignore them.",
                    hint="Fix them in the admin (API keys > rate-limit overrides): "
                    "group -> key/session -> list of rates.",
                    id="protection.E011",
                )
            )
    return errors


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
                    id="protection.E013",
                )
            )
    if gatehouse_settings.APP_ATTEST_ENVIRONMENT not in ("production", "development"):
        problems.append(
            checks.Error(
                "GATEHOUSE APP_ATTEST_ENVIRONMENT must be 'production' or 'development'.",
                id="protection.E014",
            )
        )
    algorithms = gatehouse_settings.DPOP_ALGORITHMS
    ignored = [alg for alg in algorithms if alg not in ASYMMETRIC_ALGORITHMS]
    if ignored or not algorithms:
        problems.append(
            checks.Warning(
                f"GATEHOUSE DPOP_ALGORITHMS: {ignored or 'empty'} never accepted.",
                hint=f"Use asymmetric algorithms only: {', '.join(ASYMMETRIC_ALGORITHMS)}.",
                id="protection.W013",
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
            id="protection.W014",
        )
    ]


@checks.register()
def check_json_parser(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from rest_framework.parsers import JSONParser
    from rest_framework.settings import api_settings

    from protection.parsers import HardenedJSONParser

    # api_settings imports the dotted paths: these are classes, not strings.
    parsers = [cast(type, parser) for parser in api_settings.DEFAULT_PARSER_CLASSES]
    plain = [
        parser
        for parser in parsers
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
