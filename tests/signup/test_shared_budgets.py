"""A copied publishable key is not a lever over everyone (issue 23, point 2).

With the key's lookup limit at 50/min, 60 invalid lookups from 3 sessions
made a fresh victim's lookup 429. Now: requests refused for their own fault
(400, 401, 403, over their own IP's or session's limits) spend no budget
shared with others, and every budget shared by clients who do not control
each other (the key-wide limits, one identifier from anywhere, distinct
identifiers per key) only observes by default: an alert, never a refusal of
the clean client. Each test is an attacker holding the key, then a victim
with a fresh session.
"""

import pytest

from protection.blocks import block_create
from protection.conf import DEFAULTS
from protection.core.events import SecurityEvent
from protection.sessions import session_revoke
from signup.persons import Person

pytestmark = pytest.mark.django_db
VICTIM = "192.0.2.99"


def _limits(settings, *, observe=None, **lookup):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "AUTO_BLOCK_RULES": [],
        "RATE_LIMITS": {**DEFAULTS["RATE_LIMITS"], "lookup": lookup},
        "RATE_LIMITS_OBSERVE": DEFAULTS["RATE_LIMITS_OBSERVE"] if observe is None else observe,
    }


def test_by_default_the_attackers_valid_lookups_leave_the_victim_served(
    make_api_key, make_caller, settings
):
    _limits(settings, ip=["100/h"], session=["100/h"], key=["5/h"])
    key = make_api_key()
    for n in range(3):  # three sessions, three addresses, all within their own limits
        attacker = make_caller(api_key=key, remote_addr=f"198.51.100.{n + 1}")
        for index in range(4):
            assert attacker.lookup({"email": f"a{n}.{index}@example.com"}).status_code == 200
    victim = make_caller(api_key=key, remote_addr=VICTIM)
    answer = victim.lookup({"email": "victim@example.com"})
    assert answer.status_code == 200, answer.content
    # Staff are told: the key-wide limit was crossed (an alert, not a refusal).
    alert = SecurityEvent.objects.filter(reason="lookup:key", decision="alert").first()
    assert alert is not None and alert.details["dry_run"] is True
    assert not SecurityEvent.objects.filter(kind="rate_limited", decision="deny").exists()


def test_an_enforced_key_limit_is_not_spent_by_requests_refused_for_their_own_fault(
    make_api_key, make_caller, settings
):
    # An operator enforces the key-wide limit (nothing observed).
    _limits(settings, observe=[], ip=["4/h"], session=["1/h"], key=["3/h"])
    key = make_api_key()
    # Over its own session's, then its own address's limit: 429 each time.
    own = make_caller(api_key=key, remote_addr="198.51.100.1")
    statuses = [own.lookup({"email": f"x{n}@example.com"}).status_code for n in range(8)]
    assert statuses == [200] + [429] * 7
    # A revoked session's token, again and again: 401.
    revoked = make_caller(api_key=key, remote_addr="198.51.100.2")
    session_revoke(session=revoked.issued.session, reason="client_logout")
    assert {revoked.lookup({"email": "y@example.com"}).status_code for _ in range(4)} == {401}
    # Bad bodies from a valid session: 400.
    sloppy = make_caller(api_key=key, remote_addr="198.51.100.3")
    assert {sloppy.lookup({"email": "not-an-address"}).status_code for _ in range(3)} == {400}
    # A blocked session: 403.
    blocked = make_caller(api_key=key, remote_addr="198.51.100.4")
    block_create(kind="session", value=str(blocked.issued.session.id), reason="test")
    assert {blocked.lookup({"email": "z@example.com"}).status_code for _ in range(3)} == {403}
    # The key spent 1 (the valid lookup) + 1 (the first use of the revoked
    # token, before anyone knew): the victim's lookup is within 3.
    victim = make_caller(api_key=key, remote_addr=VICTIM)
    assert victim.lookup({"email": "victim@example.com"}).status_code == 200


def test_one_identifier_hammered_by_the_attacker_still_answers_its_owner(
    make_api_key, make_caller, signup_settings
):
    Person.objects.create(email="ada@example.com", full_name="Ada Lovelace")
    signup_settings(SIGNUP_LOOKUP_IDENTIFIER_RATE="2/h")
    key = make_api_key()
    for n in range(4):
        attacker = make_caller(api_key=key, remote_addr=f"198.51.100.{n + 1}")
        assert attacker.lookup({"email": "ada@example.com"}).status_code == 200
    owner = make_caller(api_key=key, remote_addr=VICTIM)
    assert owner.lookup({"email": "ada@example.com"}).json() == {"exists": True}
    alert = SecurityEvent.objects.filter(reason="lookup_per_identifier").latest("id")
    assert (alert.decision, alert.details["dry_run"]) == ("alert", True)


def test_a_sweep_over_the_key_alerts_without_refusing_the_next_clean_client(
    make_api_key, make_caller, signup_settings
):
    signup_settings(SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE="3/h")
    key = make_api_key()
    for n in range(6):  # distinct identifiers from distinct addresses
        sweeper = make_caller(api_key=key, remote_addr=f"198.51.100.{n + 1}")
        assert sweeper.lookup({"email": f"sweep{n}@example.com"}).status_code == 200
    victim = make_caller(api_key=key, remote_addr=VICTIM)
    assert victim.lookup({"email": "victim@example.com"}).status_code == 200
    alerts = SecurityEvent.objects.filter(kind="enumeration_suspected", decision="alert")
    assert alerts.exists() and all(event.details["dry_run"] for event in alerts)
    assert not SecurityEvent.objects.filter(kind="enumeration_suspected", decision="deny").exists()


def test_the_clients_own_limits_still_refuse(make_api_key, make_caller, signup_settings):
    # Distinct identifiers from one address is the client's own budget: enforced.
    signup_settings(SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE="2/h")
    key = make_api_key()
    sweeper = [make_caller(api_key=key, remote_addr="198.51.100.7") for _ in range(3)]
    answers = [c.lookup({"email": f"s{n}@example.com"}).status_code for n, c in enumerate(sweeper)]
    assert answers == [200, 200, 429]
