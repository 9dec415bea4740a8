"""The gate's identity dimensions: which device a request counts as, and where
identity limits may be configured."""

import datetime
import uuid
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError

from protection.attestation import AttestationResult
from protection.core.ratelimit import group_dimensions, rate_limits_validate
from protection.core.ratelimit.rates import rate_limits_policy_problems
from protection.http.context import RequestContext
from protection.http.gate import _device_ident
from protection.sessions import SessionClaims

KEY = SimpleNamespace(public_id="key-A")


def _session(device_id, **extra):
    claims = SessionClaims(
        id=uuid.uuid4(),
        api_key=KEY,
        device_id=device_id,
        expires_at=datetime.datetime.now(datetime.UTC),
    )
    for name, value in extra.items():
        object.__setattr__(claims, name, value)
    return claims


def _context(**fields):
    return RequestContext(client_ip="192.0.2.1", api_key=KEY, **fields)


def test_a_verified_device_counts_globally_before_anything_claimed():
    attested = AttestationResult(verified=("approov",), device_id="dev-1")
    context = _context(attested=attested, dpop_jkt="jkt-1", session=_session("dev-1"))
    assert _device_ident(context) == "verified:dev-1"
    assert _device_ident(_context(dpop_jkt="jkt-1", session=_session("dev-1"))) == "dpop:jkt-1"


def test_a_claimed_device_counts_per_key_marked_as_claimed():
    assert _device_ident(_context(session=_session("dev-1"))) == "claimed:key-A:dev-1"
    # At session start, the body's (the body wins over X-Device-Id when parsed).
    body = SimpleNamespace(device_id="dev-1")
    assert _device_ident(_context(body=body)) == "claimed:key-A:dev-1"
    assert _device_ident(_context(session=_session(""))) is None


def test_a_session_whose_token_says_its_device_was_verified_counts_as_verified():
    session = _session("dev-1", device_verified=True)
    assert _device_ident(_context(session=session)) == "verified:dev-1"


def test_identity_dimensions_are_limited_to_the_groups_that_name_them():
    assert "mailbox" in group_dimensions("create")
    assert group_dimensions("session") == ("ip", "key", "session", "asn", "device")
    assert "mailbox" not in group_dimensions("challenge")
    rate_limits_validate({"create": {"mailbox": ["3/d"], "asn": ["300/h"]}})
    with pytest.raises(ValidationError, match="group 'challenge' cannot count 'mailbox'"):
        rate_limits_validate({"challenge": {"mailbox": ["3/d"]}})
    problems = rate_limits_policy_problems(
        {"refresh": {"device": ["1/d"]}, "lookup": {"mailbx": ["1/d"]}},
        base={"refresh": {}, "lookup": {}},
    )
    assert [(p.path, p.message.split(" (")[0]) for p in problems] == [
        (("refresh", "device"), "group 'refresh' cannot count 'device'"),
        (("lookup", "mailbx"), "unknown dimension"),
    ]


@pytest.mark.django_db
def test_sessions_per_device_count_started_sessions_only(make_api_key, settings):
    from rest_framework.test import APIClient

    from tests.support.challenges import solve

    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "RATE_LIMITS": {"session": {"device": ["1/d"]}},
        "RATE_LIMITS_OBSERVE": [],
        "AUTO_BLOCK_RULES": [],
        "POW_MAX_NUMBER": 400,
        "POW_MAX_NUMBER_CAP": 6400,
    }
    client = APIClient()
    (_pow_key, pow_raw), (_other, other_raw) = make_api_key(), make_api_key()

    def start(raw, altcha):
        return client.post(
            "/api/v1/sessions", {"device_id": "tablet-1", "altcha": altcha}, format="json",
            HTTP_X_API_KEY=raw, REMOTE_ADDR="192.0.2.9",
        ).status_code  # fmt: skip

    def solved(raw):
        challenge = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw, REMOTE_ADDR="192.0.2.9")
        return solve(challenge.json()["altcha"])

    # Refused at the evidence step, after the round trip: the device spent nothing.
    assert start(pow_raw, "garbage") == 403
    assert start(pow_raw, "garbage") == 403
    assert start(pow_raw, solved(pow_raw)) == 201
    assert start(pow_raw, solved(pow_raw)) == 429  # the claimed device's budget, on this key
    assert start(other_raw, solved(other_raw)) == 201  # another key's claim: another budget
