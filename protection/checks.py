"""Django system checks with stable ids: misconfiguration caught before it bites.

Each check reads the settings and asks the setting's owner what is wrong
(``protection.policy.rules``, ``protection.core.ratelimit.rates``,
``protection.attestation.settingscheck``, ``protection.dpop.settingscheck``,
``protection.policy.filecheck``...); the ids and what each means are listed
in docs/settings.md ("System checks"). Python settings and the policy file
are checked apart, so each message points at the place to fix:
protection.E005/E010 the former, protection.E100-E102/W100 the latter.
"""

import difflib
import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core import checks

from protection.conf import gatehouse_settings, known_setting_names, python_setting
from protection.http import productionchecks  # noqa: F401  (E220, W220: registered there)

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
    if backend in PER_PROCESS_CACHES and not productionchecks.local_cache_refusal():
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
    from protection.core.ratelimit.rates import rate_settings_problems

    return [
        checks.Error(
            f"GATEHOUSE {problem}",
            hint="A rate is count/period: up to 9 digits, then s, m, h or d with an "
            "optional multiplier (10/m, 100/d, 5/15m).",
            id="protection.E005",
        )
        for problem in rate_settings_problems()
    ]


@checks.register()
def check_attestation_settings(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from protection.attestation.settingscheck import (
        app_check_settings_problems,
        approov_settings_problems,
    )

    return [
        checks.Error(f"GATEHOUSE {message}", hint=hint, id="protection.E006")
        for message, hint in approov_settings_problems()
    ] + [
        checks.Error(f"GATEHOUSE {message}", hint=hint, id="protection.E007")
        for message, hint in app_check_settings_problems()
    ]


@checks.register()
def check_unknown_settings(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    user_settings = getattr(settings, "GATEHOUSE", None) or {}
    if not isinstance(user_settings, Mapping):
        return [checks.Error("GATEHOUSE must be a dict of settings.", id="protection.E012")]
    warnings = []
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


@checks.register()
def check_auto_block_rules(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from protection.policy.rules import auto_block_rules_problems

    rules = python_setting("AUTO_BLOCK_RULES")  # a policy file's rules: check_policy_file
    if not isinstance(rules, list | tuple):
        return [checks.Error("GATEHOUSE AUTO_BLOCK_RULES must be a list.", id="protection.E010")]
    hint = (
        "Each rule: name, dimension (ip, session, device or key), kinds (declared event "
        "kinds or reasons), threshold, window and duration (seconds); optional escalation, "
        "max_duration, difficulty_boost."
    )
    return [
        checks.Error(f"GATEHOUSE {where}: {'; '.join(problems)}", hint=hint, id="protection.E010")
        for where, problems in auto_block_rules_problems(rules)
    ]


@checks.register()
def check_rate_limit_overrides(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from protection.keys.selectors import api_keys_with_malformed_overrides

    try:
        malformed = api_keys_with_malformed_overrides()
    except Exception:  # no tables yet (before migrate), no database, or no access in tests
        logger.debug("rate-limit overrides not checked", exc_info=True)
        return []
    return [
        checks.Error(
            f"API key {name!r} ({public_id}): rate_limit_overrides are malformed: "
            f"{problem}. Requests ignore them.",
            hint="Fix them in the admin (API keys > rate-limit overrides): "
            "group -> key/session -> list of rates.",
            id="protection.E011",
        )
        for public_id, name, problem in malformed
    ]


@checks.register()
def check_dpop_and_app_attest(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from protection.dpop import ASYMMETRIC_ALGORITHMS
    from protection.dpop.settingscheck import dpop_algorithms_problem, public_base_url_problem

    problems: list[checks.CheckMessage] = []
    if problem := public_base_url_problem():
        problems.append(
            checks.Error(
                f"GATEHOUSE {problem}",
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
    if problem := dpop_algorithms_problem():
        problems.append(
            checks.Warning(
                f"GATEHOUSE {problem}",
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


@checks.register()
def check_policy_file(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from protection.policy.filecheck import FILE, TABLE, VALUE, policy_file_findings

    if not gatehouse_settings.POLICY_FILE:
        return []
    ids = {FILE: "protection.E100", TABLE: "protection.E101", VALUE: "protection.E102"}
    hint = "manage.py policy_check FILE validates a policy file; see docs/policy.md."
    return [
        checks.Warning(str(finding), hint=hint, id="protection.W100")
        if finding.warning
        else checks.Error(str(finding), hint=hint, id=ids[finding.about])
        for finding in policy_file_findings(gatehouse_settings.POLICY_FILE)
    ]
