"""Every create stores a creation snapshot with the person: what they came with
(session, device and whether it was verified, IP /32 or /64, network origin,
evidence, PoW solve time, velocity, verdict), kept PERSON_SIGNALS_RETENTION."""

import base64
import datetime
import os

import pytest
from django.core.management import call_command
from django.utils import timezone

from signup.persons import Person
from signup.snapshot import CreationSnapshot, snapshot_digest
from tests.support.challenges import easy_pow_fixture  # noqa: F401
from tests.support.signup import person_body
from tests.support.signupflow import api_create, api_session, approov_token

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("easy_pow")]


def _snapshot(response) -> dict:
    assert response.status_code == 201, response.content
    return CreationSnapshot.objects.get(person_id=response.json()["id"]).data


def test_a_create_stores_what_the_person_came_with(client, make_api_key):
    key, raw = make_api_key()  # requires proof of work
    session = api_session(client, raw, pow_took_ms=1234.7, device_id="phone-1")
    snapshot = _snapshot(api_create(client, session, person_body(phone="+12015550123")))
    assert snapshot["api_key"] == key.public_id
    assert snapshot["session"] == session.session_id
    # A device the client claimed: kept (a block needs the id), not verified.
    assert snapshot["device"] == {
        "id": "phone-1",
        "digest": snapshot_digest("phone-1", what="device"),
        "verified": False,
    }
    assert snapshot["ip_prefix"] == "203.0.113.7"
    assert snapshot["pow_ms"] == 1234  # the client's word, from the session start
    assert snapshot["attestation"] == []
    assert snapshot["tier"] == "low"  # the challenge ladder's, at the session start
    # The create group's limits as the request counted them, this create included
    # (the identity budgets too: this mailbox's and this device's first sign-up).
    assert snapshot["velocity"] == {
        "ip": {"10/m": 1, "100/d": 1},
        "key": {"3000/m": 1},
        "session": {"5/m": 1, "20/d": 1},
        "mailbox": {"3/d": 1},
        "device": {"5/d": 1},
    }
    assert snapshot["verdict"] == {"action": "allow", "risk": 0, "reasons": []}
    # The network origin is unknown without data: no guess.
    assert snapshot["network"] is None
    # Never what the person typed.
    text = str(snapshot)
    assert "ada@example.com" not in text and "5550123" not in text and "Ada" not in text


def test_an_ipv6_client_is_kept_by_its_slash_64(client, make_api_key):
    _key, raw = make_api_key(required_verifications=[])
    session = api_session(client, raw, remote_addr="2001:db8:1:2:aaaa::5")
    snapshot = _snapshot(api_create(client, session, person_body()))
    assert snapshot["ip_prefix"] == "2001:db8:1:2::/64"
    assert snapshot["pow_ms"] is None and snapshot["device"] is None


def test_a_device_named_by_attestation_is_verified(client, make_api_key, settings):
    secret = os.urandom(32)
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "APPROOV_SECRET": base64.urlsafe_b64encode(secret).decode(),
    }
    _key, raw = make_api_key(required_verifications=["approov"])
    token = approov_token(secret, raw_key=raw, device="ZGV2aWNlLTE=")
    # The client also claims another id: the attested one wins.
    session = api_session(client, raw, device_id="claimed-1", headers={"HTTP_APPROOV_TOKEN": token})
    snapshot = _snapshot(api_create(client, session, person_body()))
    assert snapshot["device"]["id"] == "ZGV2aWNlLTE="
    assert snapshot["device"]["verified"] is True
    assert snapshot["attestation"] == ["approov"]


def test_snapshots_are_purged_after_the_retention_and_the_person_stays(
    client, make_api_key, settings
):
    _key, raw = make_api_key(required_verifications=[])
    old = _snapshot(api_create(client, api_session(client, raw), person_body()))
    assert old
    fresh = api_create(client, api_session(client, raw), person_body(email="grace@example.com"))
    CreationSnapshot.objects.exclude(person_id=fresh.json()["id"]).update(
        created_at=timezone.now() - datetime.timedelta(days=91)
    )
    call_command("purge_expired", verbosity=0)
    assert list(CreationSnapshot.objects.values_list("person_id", flat=True)) == [
        Person.objects.get(email="grace@example.com").id
    ]
    assert Person.objects.count() == 2
    settings.GATEHOUSE = {**settings.GATEHOUSE, "PERSON_SIGNALS_RETENTION": 60}
    CreationSnapshot.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=2))
    call_command("purge_expired", verbosity=0)
    assert not CreationSnapshot.objects.exists()
