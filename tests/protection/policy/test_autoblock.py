"""Automatic blocking: deny events counted per rule; blocks that escalate;
API keys never blocked, their challenge difficulty raised instead."""

import datetime
import uuid

import pytest
from django.core.cache import cache
from django.urls import path
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns
from protection.base.exceptions import ProtectionError
from protection.blocks import BlockedClient, block_lift, blocks_check
from protection.core.events import SecurityEvent, event_record
from protection.core.reputation import key_difficulty_boost
from protection.sessions.devices import device_claim_value
from tests.support.cache import cache_clear

pytestmark = pytest.mark.django_db

RULES = [
    {
        "name": "ip-rl",
        "dimension": "ip",
        "kinds": ["rate_limited", "token_invalid"],
        "threshold": 3,
        "window": 600,
        "duration": 60,
        "escalation": 2,
        "max_duration": 200,
    },
    {
        "name": "ip-enum",
        "dimension": "ip",
        "kinds": ["enumeration_suspected"],
        "threshold": 1,
        "window": 3600,
        "duration": 3600,
    },
    {
        "name": "session-abuse",
        "dimension": "session",
        "kinds": ["rate_limited"],
        "threshold": 2,
        "window": 600,
        "duration": 300,
    },
    {
        "name": "device-abuse",
        "dimension": "device",
        "kinds": ["challenge_failed"],
        "threshold": 2,
        "window": 600,
        "duration": 300,
    },
    {
        "name": "key-attack",
        "dimension": "key",
        "kinds": ["rate_limited", "challenge_failed"],
        "threshold": 2,
        "window": 600,
        "duration": 900,
        "difficulty_boost": 1,
    },
]


@pytest.fixture(autouse=True)
def _rules(settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "AUTO_BLOCK_RULES": RULES,
        "AUTO_BLOCK_EXEMPT_NETWORKS": ["10.99.0.0/16"],
    }


# A reason that is an error code of a token refusal is recorded under its kind.
KIND_OF_REASON = {"token_invalid": "token_auth", "origin_not_allowed": "api_key_auth"}


def _deny(kind: str, ip: str | None = "203.0.113.5", **fields) -> None:
    event_record(
        kind=KIND_OF_REASON.get(kind, kind), decision="deny", reason=kind, client_ip=ip, **fields
    )


def _is_blocked(**kwargs) -> bool:
    try:
        blocks_check(**kwargs)
    except ProtectionError:
        return True
    return False


def test_n_denials_from_one_ip_block_it_and_the_event_names_the_rule():
    _deny("rate_limited")
    _deny("token_invalid")
    assert not BlockedClient.objects.exists()
    _deny("rate_limited")
    block = BlockedClient.objects.get()
    assert (block.kind, block.value, block.created_by_rule) == ("ip", "203.0.113.5", "ip-rl")
    assert block.created_by is None
    assert 59 <= (block.expires_at - block.created_at).total_seconds() <= 60
    assert _is_blocked(ip="203.0.113.5")
    event = SecurityEvent.objects.get(kind="client_blocked")
    assert event.reason == "ip-rl" and event.details["rule"] == "ip-rl"


def test_other_kinds_and_allow_events_do_not_count():
    for _ in range(5):
        _deny("origin_not_allowed")
        event_record(kind="rate_limited", decision="allow", client_ip="203.0.113.5")
    assert not BlockedClient.objects.exists()


def test_repeat_offenders_are_blocked_longer_up_to_a_cap(settings):
    durations = []
    for _round in range(4):
        for _ in range(3):
            _deny("rate_limited")
        block = BlockedClient.objects.filter(lifted_at__isnull=True).get()
        durations.append(round((block.expires_at - block.created_at).total_seconds()))
        block_lift(block=block)
        cache_clear()  # a new counting window
    assert durations == [60, 120, 200, 200]


def test_first_enumeration_event_blocks_the_ip():
    event_record(
        kind="rate_limited",
        decision="deny",
        reason="enumeration_suspected",
        client_ip="198.51.100.44",
        details={"identifiers": 12},
    )
    block = BlockedClient.objects.get()
    assert block.value == "198.51.100.44" and block.created_by_rule == "ip-enum"
    assert round((block.expires_at - block.created_at).total_seconds()) == 3600


def test_ipv6_offenders_are_blocked_by_their_64():
    for suffix in ("1", "2", "3"):
        _deny("rate_limited", ip=f"2001:db8:5:6::{suffix}")
    block = BlockedClient.objects.get()
    assert (block.kind, block.value) == ("cidr", "2001:db8:5:6::/64")
    assert _is_blocked(ip="2001:db8:5:6:abcd::1")


def test_unknown_and_exempt_addresses_are_never_blocked():
    for _ in range(5):
        _deny("rate_limited", ip="0.0.0.0")
        _deny("rate_limited", ip="10.99.1.2")
        _deny("rate_limited", ip=None)
    assert not BlockedClient.objects.exists()


def test_sessions_and_devices_are_blocked(api_key, make_session):
    key, _raw = api_key
    session = make_session(key).session
    for _ in range(2):
        _deny("rate_limited", ip=None, session_id=session.id)
    assert BlockedClient.objects.get(kind="session").value == str(session.id)
    # A device an attestation verified is blocked as itself.
    for _ in range(2):
        _deny("challenge_failed", ip=None, details={"device_id": "dev-42", "device_verified": True})
    assert BlockedClient.objects.get(kind="device").value == "dev-42"
    assert _is_blocked(device_id="dev-42")


def test_a_claimed_device_is_blocked_only_as_its_claim_under_its_key(api_key):
    key, _raw = api_key
    for _ in range(2):
        _deny("challenge_failed", ip=None, api_key=key, details={"device_id": "dev-43"})
    claim = device_claim_value(api_key_public_id=key.public_id, device_id="dev-43")
    assert BlockedClient.objects.get(kind="device").value == claim
    assert not _is_blocked(device_id="dev-43")  # the device itself, when verified
    # A claim under no key has nothing to be scoped to: no block.
    for _ in range(2):
        _deny("challenge_failed", ip=None, details={"device_id": "dev-44"})
    assert BlockedClient.objects.filter(kind="device").count() == 1


def test_api_keys_are_never_blocked_automatically(api_key):
    key, _raw = api_key
    assert key_difficulty_boost(key) == 0
    for _ in range(2):
        _deny("challenge_failed", ip=None, api_key=key)
    assert not BlockedClient.objects.filter(kind="api_key").exists()
    alert = SecurityEvent.objects.get(kind="key_abuse_suspected")
    assert alert.decision == "alert" and alert.reason == "key-attack" and alert.api_key == key
    assert key_difficulty_boost(key) == 1
    assert key_difficulty_boost(key.public_id) == 1
    assert key_difficulty_boost(str(uuid.uuid4())) == 0


def test_key_boost_is_capped(api_key, settings):
    key, _raw = api_key
    settings.GATEHOUSE = {**settings.GATEHOUSE, "KEY_DIFFICULTY_BOOST_MAX": 2}
    boost_key = f"gh:keyboost:{key.public_id}"
    for _ in range(4):
        for _ in range(2):
            _deny("rate_limited", ip=None, api_key=key)
        boost = cache.get(boost_key)
        cache_clear()  # the rule's counting window starts afresh; the boost stays
        cache.set(boost_key, boost, 900)
    assert key_difficulty_boost(key) == 2


def test_a_failing_rule_never_breaks_event_recording(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "AUTO_BLOCK_RULES": [{"name": "broken"}]}
    event = event_record(kind="rate_limited", decision="deny", client_ip="203.0.113.5")
    assert event.pk is not None


class _LimitedView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    rate_limit_group = "t_auto"

    def post(self, request):
        return Response({})


urlpatterns = [path("api/test/auto", _LimitedView.as_view()), *project_urlpatterns]


@pytest.mark.urls(__name__)
def test_through_http_rate_limited_clients_end_up_blocked(client, settings):
    """429s feed the ip rule; the rule's block then answers 403."""
    settings.GATEHOUSE = {**settings.GATEHOUSE, "RATE_LIMITS": {"t_auto": {"ip": ["2/m"]}}}
    statuses = [
        client.post("/api/test/auto", {}, format="json", REMOTE_ADDR="192.0.2.99").status_code
        for _ in range(7)
    ]
    # 2 admitted, 3 rate-limited (the third 429 crosses the rule), then blocked.
    assert statuses == [200, 200, 429, 429, 429, 403, 403]
    assert BlockedClient.objects.get().created_by_rule == "ip-rl"


def test_escalation_only_counts_blocks_by_the_same_rule():
    BlockedClient.objects.create(
        kind="ip",
        value="203.0.113.5",
        created_by_rule="other-rule",
        expires_at=timezone.now() - datetime.timedelta(minutes=1),
    )
    for _ in range(3):
        _deny("rate_limited")
    block = BlockedClient.objects.get(created_by_rule="ip-rl")
    assert round((block.expires_at - block.created_at).total_seconds()) == 60


def test_a_devices_denials_count_through_its_session(api_key, make_session):
    # Denials after a session exists carry the session, not the device: the
    # device rule finds the device the session was issued to.
    key, _raw = api_key
    session = make_session(key, device_id="phone-7", device_verified=True).session
    for _ in range(2):
        _deny("challenge_failed", ip=None, session_id=session.id)
    assert BlockedClient.objects.filter(kind="device", value="phone-7").exists()
    # A session that only claimed its device blocks the claim under its key.
    claimed = make_session(key, device_id="phone-9").session
    for _ in range(2):
        _deny("challenge_failed", ip=None, session_id=claimed.id)
    claim = device_claim_value(api_key_public_id=key.public_id, device_id="phone-9")
    assert BlockedClient.objects.filter(kind="device", value=claim).exists()
    assert not BlockedClient.objects.filter(kind="device", value="phone-9").exists()


def test_a_blocked_device_gets_no_new_session(client, api_key):
    from protection.blocks import block_create

    key, raw = api_key
    block_create(kind="device", value="phone-8", reason="test")
    response = client.post(
        "/api/v1/sessions", {"device_id": "phone-8"}, format="json", HTTP_X_API_KEY=raw
    )
    assert response.status_code == 403 and response.json()["code"] == "blocked"


def test_a_rule_in_dry_run_records_what_it_would_block_and_blocks_nothing(settings):
    dry = {**RULES[0], "dry_run": True}
    settings.GATEHOUSE = {**settings.GATEHOUSE, "AUTO_BLOCK_RULES": [dry]}
    for _ in range(3):
        _deny("rate_limited")
    assert not BlockedClient.objects.exists()
    assert not _is_blocked(ip="203.0.113.5")
    alert = SecurityEvent.objects.get(kind="client_blocked")
    assert (alert.decision, alert.reason) == ("alert", "ip-rl")
    assert alert.details == {"dry_run": True, "block_kind": "ip", "trigger": "rate_limited"}


def test_dry_run_is_a_known_rule_field_and_must_be_a_boolean():
    from protection.policy.rules import auto_block_rule_problems

    assert auto_block_rule_problems({**RULES[0], "dry_run": True}) == []
    assert auto_block_rule_problems({**RULES[0], "dry_run": "yes"}) == [
        "dry_run: 'yes' is not true or false"
    ]
