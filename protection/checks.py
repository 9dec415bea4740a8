"""Django system checks with stable ids: misconfiguration caught before it bites.

Each check reads the settings and asks the setting's owner what is wrong
(``protection.policy.rules``, ``protection.core.ratelimit.rates``,
``protection.attestation.settingscheck``, ``protection.dpop.settingscheck``,
``protection.policy.filecheck``...); the ids and what each means are listed
in docs/settings.md ("System checks"). Python settings and the policy file
are checked apart, so each message points at the place to fix:
protection.E005/E010 the former, protection.E100-E102/W100 the latter.
(``protection.netintel.checks`` registers W120 and W121;
``protection.policy.ladderchecks`` E300-E302 and W300.)
(``protection.core.outbox.checks`` registers E160-E163/W160-W161 and
``protection.webhooks`` E165/W165.)

Longer than ~300 lines: one short function per check, each registered
where Django finds it.
"""

import difflib
import logging
from collections.abc import Mapping
from typing import Any, cast

from django.conf import settings
from django.core import checks

from protection.conf import gatehouse_settings, known_setting_names, python_setting
from protection.http import productionchecks  # noqa: F401  (E220, W220: registered there)
from protection.netintel import checks as netintel_checks  # noqa: F401 - registers W120, W121
from protection.policy import ladderchecks  # noqa: F401 - registers E300-E302, W300

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
        *(
            checks.Error(f"GATEHOUSE {message}", hint=hint, id="protection.E006")
            for message, hint in approov_settings_problems()
        ),
        *(
            checks.Error(f"GATEHOUSE {message}", hint=hint, id="protection.E007")
            for message, hint in app_check_settings_problems()
        ),
    ]


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
def check_label_fraud_blocks(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from protection.policy.labels import label_fraud_blocks_problems

    # A policy file's table is checked with the file (check_policy_file).
    problems = label_fraud_blocks_problems(python_setting("LABEL_FRAUD_BLOCKS"))
    if not problems:
        return []
    return [
        checks.Error(
            f"GATEHOUSE LABEL_FRAUD_BLOCKS: {'; '.join(problems)}",
            hint='A dict of kind -> seconds, kinds "session", "device", "ip"; '
            "leave a kind out not to block it.",
            id="protection.E280",
        )
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
            "group -> dimension (any but ip) -> list of rates.",
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


def _routed_views(patterns: Any) -> list[Any]:
    """Every view class the URL configuration routes to (DRF's ``as_view`` keeps it)."""
    found: list[Any] = []
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            found += _routed_views(pattern.url_patterns)
            continue
        view = getattr(pattern.callback, "cls", None) or getattr(
            pattern.callback, "view_class", None
        )
        if view is not None:
            found.append(view)
    return found


@checks.register(checks.Tags.urls)
def check_gate_adapters(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """A view with an endpoint group and session tokens must count with the gate's
    throttle: the session's revocation and a DPoP proof's replay are read in the
    round trip it makes, and nothing else would read them."""
    from django.urls import get_resolver

    from protection.authentication import SessionTokenAuthentication
    from protection.throttling import GatehouseRateThrottle

    errors: list[checks.CheckMessage] = []
    for view in dict.fromkeys(_routed_views(get_resolver().url_patterns)):
        if not getattr(view, "rate_limit_group", None):
            continue
        authentications = getattr(view, "authentication_classes", ())
        throttles = getattr(view, "throttle_classes", ())
        if any(issubclass(a, SessionTokenAuthentication) for a in authentications) and not any(
            issubclass(t, GatehouseRateThrottle) for t in throttles
        ):
            errors.append(
                checks.Error(
                    f"{view.__module__}.{view.__name__} declares rate_limit_group and "
                    "authenticates session tokens, but does not count with "
                    "GatehouseRateThrottle: its sessions' revocation would never be read.",
                    hint="Keep protection.throttling.GatehouseRateThrottle in its "
                    "throttle_classes (the project default).",
                    id="protection.E015",
                )
            )
    return errors


@checks.register()
def check_network_policy(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.core.exceptions import ValidationError

    from protection.keys.network_policy import network_policy_clean

    problems: list[checks.CheckMessage] = []
    policy = gatehouse_settings.NETWORK_POLICY
    try:
        if not isinstance(policy, Mapping):
            raise ValidationError("it must be a dict of network class -> action")
        network_policy_clean(policy)
    except ValidationError as exc:
        problems.append(
            checks.Error(
                f"GATEHOUSE NETWORK_POLICY: {'; '.join(exc.messages)} Requests skip that entry.",
                hint='E.g. {"tor": "deny", "hosting": "harder", "vpn": "require:recaptcha"} '
                "(the policy file's [network_policy] table).",
                id="protection.E120",
            )
        )
    factor = gatehouse_settings.POW_HARDER_FACTOR
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        problems.append(
            checks.Error(
                f"GATEHOUSE POW_HARDER_FACTOR {factor!r} is not a whole number of at least 1.",
                hint="The default is 8: 'harder' multiplies the proof-of-work difficulty by it.",
                id="protection.E121",
            )
        )
    return problems
