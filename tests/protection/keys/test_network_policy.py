"""The network policy: the decision table, validation everywhere it is typed
(setting, admin, command), and the proof-of-work factor."""

import json
from io import StringIO

import pytest
from django.core import checks
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from protection.base.exceptions import ERROR_CATALOGUE, ProtectionError
from protection.keys import (
    ApiKey,
    NetworkDecision,
    api_key_rotate,
    api_key_update,
    network_policy_clean,
    network_policy_decide,
    network_policy_pow_max_number,
)
from protection.netintel import UNKNOWN_ORIGIN, NetworkOrigin

TOR = NetworkOrigin(asn=64500, country="XA", network_class="tor")
HOSTING = NetworkOrigin(asn=64501, country="XA", network_class="hosting")
RESIDENTIAL = NetworkOrigin(asn=64502, country="XA", network_class="")


class Key:
    """What the decision reads of a key: its network_policy."""

    def __init__(self, policy=None):
        self.network_policy = policy or {}


DEFAULT_GLOBAL = {"hosting": "harder", "vpn": "harder", "proxy": "harder", "tor": "harder"}


@pytest.mark.parametrize(
    ("global_policy", "key_policy", "origin", "expected"),
    [
        # the defaults: every class harder, nothing denied
        (DEFAULT_GLOBAL, {}, TOR, NetworkDecision("harder", "", "tor", "global")),
        (DEFAULT_GLOBAL, {}, HOSTING, NetworkDecision("harder", "", "hosting", "global")),
        (DEFAULT_GLOBAL, {}, RESIDENTIAL, NetworkDecision()),
        # unknown origins fail open, whatever the policy says
        ({"tor": "deny"}, {"tor": "deny"}, UNKNOWN_ORIGIN, NetworkDecision()),
        # the key overrides the global policy class by class
        (DEFAULT_GLOBAL, {"tor": "deny"}, TOR, NetworkDecision("deny", "", "tor", "key")),
        (
            DEFAULT_GLOBAL,
            {"tor": "deny"},
            HOSTING,
            NetworkDecision("harder", "", "hosting", "global"),
        ),
        (
            DEFAULT_GLOBAL,
            {"hosting": "allow"},
            HOSTING,
            NetworkDecision("allow", "", "hosting", "key"),
        ),
        (
            {"vpn": "require:recaptcha"},
            {},
            NetworkOrigin(network_class="vpn"),
            NetworkDecision("require", "recaptcha", "vpn", "global"),
        ),
        (
            {},
            {"hosting": "require:app_check"},
            HOSTING,
            NetworkDecision("require", "app_check", "hosting", "key"),
        ),
        # a class named nowhere is allowed
        ({}, {}, TOR, NetworkDecision(network_class="tor")),
        # a malformed global entry (protection.E120) is skipped, not raised
        ({"tor": "block"}, {}, TOR, NetworkDecision(network_class="tor")),
    ],
)
def test_decision_table(settings, global_policy, key_policy, origin, expected):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "NETWORK_POLICY": global_policy}
    assert network_policy_decide(origin=origin, api_key=Key(key_policy)) == expected


def test_a_deny_is_refused_as_network_refused():
    decision = network_policy_decide(origin=TOR, api_key=Key({"tor": "deny"}))
    assert decision.refused
    assert ERROR_CATALOGUE["network_refused"].status == 403
    assert ProtectionError("network_refused").status_code == 403
    assert decision.as_details() == {"action": "deny", "class": "tor", "source": "key"}


@pytest.mark.parametrize(
    ("given", "cleaned"),
    [
        ("tor=deny,hosting=harder", {"tor": "deny", "hosting": "harder"}),
        (" TOR = Deny ,\n vpn=require:ReCaptcha ", {"tor": "deny", "vpn": "require:recaptcha"}),
        ('{"proxy": "allow"}', {"proxy": "allow"}),
        ({"hosting": "harder", "tor": "allow"}, {"tor": "allow", "hosting": "harder"}),
        ("", {}),
        (None, {}),
    ],
)
def test_clean_accepts_pairs_json_and_mappings(given, cleaned):
    assert network_policy_clean(given) == cleaned


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("residential=deny", "Unknown network class 'residential'"),
        ("tor=block", "Unknown network action 'block'"),
        ("tor=require:fingerprint", "Unknown network action 'require:fingerprint'"),
        ("tor=require", "Unknown network action 'require'"),
        ("tor", "class=action pairs"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ({"tor": 1}, "Unknown network action 1"),
    ],
)
def test_clean_names_what_is_wrong(given, message):
    with pytest.raises(ValidationError) as error:
        network_policy_clean(given)
    assert message in " ".join(error.value.messages)


@pytest.mark.parametrize(
    ("action", "max_number", "expected"),
    [
        ("harder", 200_000, 1_600_000),  # x8
        ("harder", 800_000, 3_200_000),  # capped at POW_MAX_NUMBER_CAP
        ("harder", 6_400_000, 6_400_000),  # never lowered
        ("allow", 200_000, 200_000),
        ("deny", 200_000, 200_000),
    ],
)
def test_harder_multiplies_the_difficulty_under_the_cap(action, max_number, expected):
    decision = NetworkDecision(action=action, network_class="tor")
    assert network_policy_pow_max_number(decision=decision, max_number=max_number) == expected


def test_the_factor_is_a_setting(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "POW_HARDER_FACTOR": 2}
    decision = NetworkDecision(action="harder", network_class="vpn")
    assert network_policy_pow_max_number(decision=decision, max_number=200_000) == 400_000


def _check_ids() -> list[str]:
    return [m.id for m in checks.run_checks() if m.id in ("protection.E120", "protection.E121")]


def test_checks_refuse_a_malformed_global_policy_and_factor(settings):
    assert _check_ids() == []
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "NETWORK_POLICY": {"tor": "nope"},
        "POW_HARDER_FACTOR": 0,
    }
    assert _check_ids() == ["protection.E120", "protection.E121"]


@pytest.mark.django_db
def test_create_api_key_takes_a_network_policy():
    out = StringIO()
    call_command(
        "create_api_key",
        "--name",
        "web",
        "--network-policy",
        "tor=deny,hosting=harder",
        "--json",
        stdout=out,
    )
    summary = json.loads(out.getvalue())
    assert summary["network_policy"] == {"tor": "deny", "hosting": "harder"}
    key = ApiKey.objects.get(public_id=summary["public_id"])
    assert network_policy_decide(origin=TOR, api_key=key).refused
    text = StringIO()
    call_command("create_api_key", "--name", "plain", stdout=text)
    assert "  network:   as NETWORK_POLICY\n" in text.getvalue()


@pytest.mark.django_db
def test_create_api_key_refuses_a_malformed_policy():
    with pytest.raises(CommandError, match="Unknown network class 'tors'"):
        call_command("create_api_key", "--name", "web", "--network-policy", "tors=deny")
    assert not ApiKey.objects.exists()


@pytest.mark.django_db
def test_the_policy_follows_updates_and_rotation(make_api_key):
    key, _ = make_api_key(network_policy="vpn=require:recaptcha")
    key = api_key_update(api_key=key, changes={"network_policy": "tor=deny"})
    assert ApiKey.objects.get(pk=key.pk).network_policy == {"tor": "deny"}
    successor, _ = api_key_rotate(api_key=key)
    assert successor.network_policy == {"tor": "deny"}


@pytest.mark.django_db
def test_the_admin_edits_a_keys_policy(django_user_model, make_api_key):
    key, _ = make_api_key()
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin)
    url = f"/admin/protection/apikey/{key.pk}/change/"
    form = {
        "name": key.name,
        "scopes": key.scopes,
        "allowed_origins": "",
        "required_verifications": ["pow"],
        "recaptcha_version": "v3",
        "recaptcha_action": "session",
        "recaptcha_min_score": "0.5",
        "rate_limit_overrides": "{}",
        "attestation_overrides": "{}",
        "network_policy": "tor=deny, hosting=allow",
        "expires_at_0": "",
        "expires_at_1": "",
    }
    assert client.post(url, form).status_code == 302
    key.refresh_from_db()
    assert key.network_policy == {"tor": "deny", "hosting": "allow"}
    page = client.get(url).content.decode()
    assert 'value="tor=deny, hosting=allow"' in page
    bad = client.post(url, {**form, "network_policy": "tor=maybe"})
    assert bad.status_code == 200 and "Unknown network action" in bad.content.decode()
