"""System checks of the configuration: typos warn, malformed rules and overrides are errors."""

import os
import subprocess
import sys
import types

import pytest
from django.core import checks

from protection.conf import DEFAULTS
from protection.keys import ApiKey
from protection.policy.rules import auto_block_rule_problems
from tests.support.paths import ROOT

GOOD_RULE = {
    "name": "r",
    "dimension": "ip",
    "kinds": ["rate_limited"],
    "threshold": 5,
    "window": 60,
    "duration": 60,
}


def messages(check_id: str) -> list[checks.CheckMessage]:
    return [m for m in checks.run_checks() if m.id == check_id]


def test_the_default_configuration_has_no_findings():
    ids = {m.id for m in checks.run_checks()}
    assert not ids & {"protection.W010", "protection.E010", "protection.E011", "protection.E012"}


def test_an_unknown_gatehouse_key_warns_and_suggests_the_right_one(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "RATE_LIMIT": {}, "COMPLETELY_MADE_UP": 1}
    found = messages("protection.W010")
    assert [m.msg for m in found] == [
        "GATEHOUSE['COMPLETELY_MADE_UP'] is not a gatehouse setting; it is ignored.",
        "GATEHOUSE['RATE_LIMIT'] is not a gatehouse setting; it is ignored.",
    ]
    assert found[1].hint == "Did you mean 'RATE_LIMITS'?"
    assert all(m.level == checks.WARNING for m in found)


def test_the_default_rules_are_well_formed():
    assert [auto_block_rule_problems(rule) for rule in DEFAULTS["AUTO_BLOCK_RULES"]] == [
        [] for _ in DEFAULTS["AUTO_BLOCK_RULES"]
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"dimension": "ipv4"}, "dimension: 'ipv4' is not one of ip, session, device, key"),
        ({"kinds": "rate_limited"}, "kinds: a non-empty list"),
        ({"kinds": []}, "kinds: a non-empty list"),
        ({"threshold": "60"}, "threshold: '60' is not a whole number of at least 1"),
        ({"threshold": 0}, "threshold: 0 is not a whole number"),
        ({"threshold": True}, "threshold: True is not a whole number"),
        ({"window": 1.5}, "window: 1.5 is not a whole number"),
        ({"treshold": 5}, "unknown field 'treshold'"),
        ({"name": ""}, "name: a non-empty string"),
        ({"max_duration": 10}, "max_duration: smaller than duration"),
        ({"escalation": 0.5}, "escalation: 0.5 is not a number of at least 1"),
        ({"difficulty_boost": 1}, "difficulty_boost: only rules on the key dimension"),
    ],
)
def test_each_malformed_rule_field_is_named(change, problem):
    problems = auto_block_rule_problems({**GOOD_RULE, **change})
    assert any(p.startswith(problem) for p in problems), problems


def test_a_missing_field_and_a_non_object_are_named():
    without_window = {k: v for k, v in GOOD_RULE.items() if k != "window"}
    assert auto_block_rule_problems(without_window) == ["window: missing"]
    assert auto_block_rule_problems("ip-rate-limited") != []


def test_malformed_rules_are_errors_naming_the_rule(settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "AUTO_BLOCK_RULES": [GOOD_RULE, {**GOOD_RULE, "name": "bad", "window": "10m"}, GOOD_RULE],
    }
    found = messages("protection.E010")
    assert len(found) == 2
    assert "AUTO_BLOCK_RULES[1] ('bad'): window: '10m'" in found[0].msg
    assert "AUTO_BLOCK_RULES[2] ('r'): name: used by an earlier rule" in found[1].msg
    assert all(m.level == checks.ERROR for m in found)


def test_a_rule_kind_that_is_neither_a_declared_kind_nor_reason_is_an_error(settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        # lookup_distinct_per_ip is a declared reason, api_key_auth a declared kind.
        "AUTO_BLOCK_RULES": [
            {**GOOD_RULE, "kinds": ["rate_limited", "lookup_distinct_per_ip", "api_key_auth"]},
            {**GOOD_RULE, "name": "typo", "kinds": ["rate_limted"]},
        ],
    }
    assert [m.msg for m in messages("protection.E010")] == [
        "GATEHOUSE AUTO_BLOCK_RULES[1] ('typo'): kinds: 'rate_limted' is neither a declared "
        "event kind nor a declared reason"
    ]


def test_rules_that_are_not_a_list_are_an_error(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "AUTO_BLOCK_RULES": {"name": "x"}}
    assert [m.msg for m in messages("protection.E010")] == [
        "GATEHOUSE AUTO_BLOCK_RULES must be a list."
    ]


@pytest.mark.django_db
def test_malformed_stored_overrides_are_an_error_naming_the_key(make_api_key):
    good, _ = make_api_key(name="good", rate_limit_overrides={"lookup": {"key": ["10/m"]}})
    bad, _ = make_api_key(name="bad")
    # Written around the model validator, as a raw SQL fix or an old release could.
    ApiKey.objects.filter(pk=bad.pk).update(rate_limit_overrides={"lookup": {"ip": "ten/m"}})
    revoked, _ = make_api_key(name="revoked")
    ApiKey.objects.filter(pk=revoked.pk).update(
        rate_limit_overrides={"x": 1}, revoked_at="2020-01-01T00:00:00Z"
    )
    found = messages("protection.E011")
    assert len(found) == 1
    assert f"'bad' ({bad.public_id})" in found[0].msg
    assert "lookup.ip: unknown dimension" in found[0].msg


def test_overrides_are_skipped_without_database_access():
    # No django_db mark: the query is refused, and the check must not crash.
    assert messages("protection.E011") == []


def _start(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GATEHOUSE_"))}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.subprocess
def test_manage_py_check_fails_naming_the_rule_and_the_typo():
    result = _start(
        "from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy'])",
        DJANGO_SETTINGS_MODULE="tests.support.bad_rules_settings",
    )
    assert result.returncode != 0
    assert "protection.E010" in result.stderr
    assert "AUTO_BLOCK_RULES[0] ('typo-rule'): dimension: 'ipp'" in result.stderr
    assert "threshold: '60'" in result.stderr
    assert "protection.W010" in result.stderr and "'RATE_LIMT'" in result.stderr


@pytest.mark.subprocess
def test_the_wsgi_server_refuses_to_start_with_a_malformed_rule():
    result = _start("import config.wsgi", DJANGO_SETTINGS_MODULE="tests.support.bad_rules_settings")
    assert result.returncode == 4  # gunicorn's "App failed to load": the arbiter stops
    assert "gatehouse: refusing to start: protection.E010" in result.stderr
    assert "AUTO_BLOCK_RULES[0]" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.subprocess
def test_the_wsgi_server_starts_with_the_default_rules(tmp_path):
    result = _start(
        "from django.core.management import call_command; import django; django.setup(); "
        "call_command('migrate', verbosity=0); import config.wsgi; print('started')",
        DJANGO_SETTINGS_MODULE="config.settings",
        GATEHOUSE_DATA_DIR=str(tmp_path),
        DATABASE_URL="",
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_a_malformed_stored_override_is_logged_at_start_not_fatal(make_api_key, caplog, settings):
    from protection.startup import startup_problems

    # Without REDIS_URL the cache is per process: meant here (protection.E220).
    settings.GATEHOUSE = {**settings.GATEHOUSE, "ALLOW_LOCAL_CACHE": True}

    bad, _ = make_api_key(name="bad")
    ApiKey.objects.filter(pk=bad.pk).update(rate_limit_overrides={"lookup": {"ip": "x"}})
    assert startup_problems() == []  # one bad row must not keep every worker down
    assert any(
        r.levelname == "ERROR" and "protection.E011" in r.getMessage() for r in caplog.records
    )


def test_a_grouped_session_view_without_the_gates_throttle_is_an_error(settings):
    from django.urls import path
    from rest_framework.views import APIView

    from protection.authentication import SessionTokenAuthentication
    from protection.checks import check_gate_adapters

    class Unthrottled(APIView):
        authentication_classes = [SessionTokenAuthentication]
        throttle_classes: list = []
        rate_limit_group = "lookup"

    module = types.ModuleType("gate_check_urls")
    module.urlpatterns = [path("api/v1/x", Unthrottled.as_view())]  # type: ignore[attr-defined]
    sys.modules["gate_check_urls"] = module
    settings.ROOT_URLCONF = "gate_check_urls"
    try:
        errors = check_gate_adapters(None)
    finally:
        del sys.modules["gate_check_urls"]
    assert [error.id for error in errors] == ["protection.E015"]
    assert "Unthrottled" in errors[0].msg


def test_the_projects_own_views_pass_the_gate_adapter_check():
    from protection.checks import check_gate_adapters

    assert check_gate_adapters(None) == []
