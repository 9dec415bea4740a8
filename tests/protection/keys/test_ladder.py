"""The challenge ladder's table: one validation for the setting, the policy file,
the model, the admin and create_api_key; a key's ladder over the global one."""

import json
from io import StringIO

import pytest
from django.core import checks
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from protection.conf import DEFAULTS, gatehouse_settings
from protection.keys import VERIFICATIONS, ApiKey, api_key_rotate, api_key_update
from protection.keys.ladder import (
    LADDER_OFF,
    RUNGS,
    challenge_ladder_clean,
    challenge_ladder_for,
    challenge_ladder_format,
    challenge_ladder_problems,
)


def test_every_rung_is_a_verification_or_a_ladder_word():
    assert set(RUNGS) - set(VERIFICATIONS) == {"pow_hard", "captcha"}


def test_the_default_ladder_is_valid_and_asks_nothing_more_of_a_clean_client():
    ladder = DEFAULTS["CHALLENGE_LADDER"]
    assert challenge_ladder_clean(ladder) == ladder
    assert ladder["low"] == []
    assert (ladder["elevated"], ladder["high"], ladder["critical"]) == (
        ["pow_hard"],
        ["captcha"],
        "deny",
    )


@pytest.mark.parametrize(
    ("value", "cleaned"),
    [
        (None, {}),
        ("", {}),
        ({"HIGH": ["Captcha", "pow_hard", "captcha"]}, {"high": ["captcha", "pow_hard"]}),
        ({"critical": "DENY", "dry_run": True}, {"critical": "deny", "dry_run": True}),
        (
            "high=captcha+pow_hard, critical=deny",
            {"high": ["captcha", "pow_hard"], "critical": "deny"},
        ),
        ("low=none,elevated=,dry_run=true", {"low": [], "elevated": [], "dry_run": True}),
        ('{"elevated": ["pow_hard"]}', {"elevated": ["pow_hard"]}),
        ("off", LADDER_OFF),
        # the canonical order whatever the given one
        (
            {"dry_run": False, "critical": [], "low": ["pat"]},
            {"low": ["pat"], "critical": [], "dry_run": False},
        ),
    ],
)
def test_clean_accepts_objects_pairs_json_and_off(value, cleaned):
    assert challenge_ladder_clean(value) == cleaned


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"medium": []}, "Unknown risk tier 'medium'"),
        ({"high": ["captcha", "sms"]}, "Tier 'high': unknown evidence 'sms'"),
        ({"high": 3}, "Tier 'high': give a list of evidence"),
        ({"dry_run": "maybe"}, "dry_run must be true or false"),
        ("high", "Write the challenge ladder as tier=evidence pairs"),
        ("{nope", "not valid JSON"),
        ('["high"]', "must be a JSON object"),
        (["high"], "must be an object"),
        # attestation is checked before the ladder: it cannot be a rung
        ({"high": ["app_check"]}, "unknown evidence 'app_check'"),
    ],
)
def test_clean_refuses_with_a_message_naming_the_problem(value, message):
    with pytest.raises(ValidationError) as raised:
        challenge_ladder_clean(value)
    assert message in " ".join(raised.value.messages)


def test_format_round_trips():
    for ladder in (
        {"high": ["captcha", "pow_hard"], "critical": "deny", "dry_run": True},
        LADDER_OFF,
        {},
    ):
        assert challenge_ladder_clean(challenge_ladder_format(ladder)) == ladder
    assert challenge_ladder_format(LADDER_OFF) == "off"
    assert challenge_ladder_format({"low": []}) == "low=none"


class Key:
    def __init__(self, ladder=None):
        self.challenge_ladder = ladder or {}


def test_a_keys_ladder_overrides_the_global_one_tier_by_tier(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "CHALLENGE_LADDER": {"high": ["turnstile"]}}
    # The Python setting replaces the default whole: unnamed tiers ask nothing.
    assert challenge_ladder_for(Key()) == {
        "low": [], "elevated": [], "high": ["turnstile"], "critical": [], "dry_run": False,
    }  # fmt: skip
    own = Key({"critical": "deny", "dry_run": True})
    assert challenge_ladder_for(own) == {
        "low": [], "elevated": [], "high": ["turnstile"], "critical": "deny", "dry_run": True,
    }  # fmt: skip
    assert challenge_ladder_for(Key(dict(LADDER_OFF)))["high"] == []


def test_a_malformed_global_tier_asks_nothing_and_is_a_system_check(settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "CHALLENGE_LADDER": {"high": ["sms"], "critical": "deny"},
    }
    ladder = challenge_ladder_for(Key())
    assert (ladder["high"], ladder["critical"]) == ([], "deny")
    assert "protection.E300" in {message.id for message in checks.run_checks()}


def test_a_tier_asking_for_an_unconfigured_captcha_is_a_warning(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "CHALLENGE_LADDER": {"high": ["hcaptcha"]}}
    warnings = [m for m in checks.run_checks() if m.id == "protection.W300"]
    assert len(warnings) == 1 and "HCAPTCHA_SECRET" in warnings[0].msg
    settings.GATEHOUSE = {**settings.GATEHOUSE, "HCAPTCHA_SECRET": "s"}
    assert not [m for m in checks.run_checks() if m.id == "protection.W300"]


def test_the_policy_file_table_merges_tier_by_tier(tmp_path, settings):
    path = tmp_path / "policy.toml"
    path.write_text('[challenge_ladder]\nhigh = ["captcha", "pow_hard"]\ndry_run = true\n')
    settings.GATEHOUSE = {**settings.GATEHOUSE, "POLICY_FILE": str(path)}
    assert gatehouse_settings.CHALLENGE_LADDER == {
        **DEFAULTS["CHALLENGE_LADDER"],
        "high": ["captcha", "pow_hard"],
        "dry_run": True,
    }
    problems = challenge_ladder_problems({"high": ["sms"], "low": []}, base={})
    assert [(p.path, p.message.split(":")[0]) for p in problems] == [(("high",), "Tier 'high'")]
    assert challenge_ladder_problems("deny", base={})[0].path == ()


# --- on keys: model, services, command, admin ---------------------------------------


@pytest.mark.django_db
def test_a_key_keeps_its_ladder_through_update_and_rotation(make_api_key):
    key, _raw = make_api_key(challenge_ladder="high=turnstile,critical=deny")
    assert key.challenge_ladder == {"high": ["turnstile"], "critical": "deny"}
    key = api_key_update(api_key=key, changes={"challenge_ladder": {"dry_run": True}})
    assert ApiKey.objects.get(pk=key.pk).challenge_ladder == {"dry_run": True}
    successor, _ = api_key_rotate(api_key=key)
    assert successor.challenge_ladder == {"dry_run": True}
    with pytest.raises(ValidationError):
        api_key_update(api_key=successor, changes={"challenge_ladder": {"high": ["sms"]}})


@pytest.mark.django_db
def test_the_model_field_validates(make_api_key):
    key, _ = make_api_key()
    key.challenge_ladder = {"high": "everything"}
    with pytest.raises(ValidationError):
        key.full_clean()


@pytest.mark.django_db
def test_create_api_key_takes_a_ladder():
    out = StringIO()
    call_command(
        "create_api_key", "--name", "web", "--captcha", "turnstile",
        "--ladder", "high=captcha+pow_hard,dry_run=true", stdout=out,
    )  # fmt: skip
    assert "  ladder:    high=captcha+pow_hard,dry_run=true\n" in out.getvalue()
    key = ApiKey.objects.get(name="web")
    assert key.challenge_ladder == {"high": ["captcha", "pow_hard"], "dry_run": True}
    out = StringIO()
    call_command("create_api_key", "--name", "partner", "--ladder", "off", "--json", stdout=out)
    assert json.loads(out.getvalue())["challenge_ladder"] == LADDER_OFF
    with pytest.raises(CommandError, match="unknown evidence 'sms'"):
        call_command("create_api_key", "--name", "bad", "--ladder", "high=sms", stdout=StringIO())


@pytest.mark.django_db
def test_the_admin_form_takes_and_shows_a_ladder(admin_user, make_api_key):
    client = Client()
    client.force_login(admin_user)
    key, _ = make_api_key(challenge_ladder={"critical": "deny"})
    url = f"/admin/protection/apikey/{key.pk}/change/"
    page = client.get(url).content.decode()
    assert 'name="challenge_ladder"' in page and 'value="critical=deny"' in page
    form = {
        "name": key.name,
        "kind": key.kind,
        "scopes": key.scopes,
        "required_verifications": key.required_verifications,
        "recaptcha_version": key.recaptcha_version,
        "recaptcha_action": key.recaptcha_action,
        "recaptcha_min_score": key.recaptcha_min_score,
        "captcha_action": key.captcha_action,
        "attestation_overrides": "{}",
        "rate_limit_overrides": "{}",
        "challenge_ladder": "high = sms",
    }
    refused = client.post(url, form)
    assert refused.status_code == 200 and "unknown evidence" in refused.content.decode()
    assert client.post(url, {**form, "challenge_ladder": "off"}).status_code == 302
    assert ApiKey.objects.get(pk=key.pk).challenge_ladder == LADDER_OFF
