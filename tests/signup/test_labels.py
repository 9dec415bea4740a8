"""Fraud labels block what the person came with (per LABEL_FRAUD_BLOCKS), legit
labels lift what the fraud label made; every label is kept with who, when, why."""

import base64
import datetime
import os

import pytest
from django.utils import timezone

from protection.blocks import BlockedClient, block_create
from protection.core.events import SecurityEvent
from signup.labels import PersonLabel, person_label
from signup.persons import Person
from signup.snapshot import CreationSnapshot
from tests.support.signup import person_body
from tests.support.signupflow import (
    api_create,
    api_lookup,
    api_session,
    approov_token,
)

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(hours=24)


@pytest.fixture
def open_key(make_api_key):
    """A key that asks for no evidence: sessions straight away."""
    return make_api_key(required_verifications=[])


def _signed_up(client, raw, *, email="ada@example.com", **session_options):
    session = api_session(client, raw, **session_options)
    response = api_create(client, session, person_body(email=email))
    assert response.status_code == 201, response.content
    return Person.objects.get(pk=response.json()["id"]), session


def _active(kind=None):
    blocks = BlockedClient.objects.filter(lifted_at__isnull=True)
    return blocks.filter(kind=kind) if kind else blocks


def test_fraud_blocks_the_creating_session_and_ip_and_keeps_who_and_why(client, open_key):
    _key, raw = open_key
    person, session = _signed_up(client, raw, device_id="claimed-phone")
    assert api_lookup(client, session).status_code == 200
    now = timezone.now()
    outcome = person_label(
        person=person, label="fraud", reason="chargeback", by_name="ops", now=now
    )
    assert {(b.kind, b.value) for b in _active()} == {
        ("session", session.session_id),
        ("ip", "203.0.113.7"),
    }
    for block in _active():
        assert block.created_by_rule == "fraud_label"
        assert block.expires_at == now + DAY
        assert str(person.id) in block.reason and "chargeback" in block.reason
    # A claimed device id is never blocked: it may be a verified device's id.
    assert not _active("device").exists()
    assert [(s.target, "claimed" in s.why) for s in outcome.skipped] == [("device", True)]
    # Each block is an event with the label as its reason.
    events = SecurityEvent.objects.filter(kind="client_blocked")
    assert sorted(e.details["label_target"] for e in events) == ["ip", "session"]
    assert {e.reason for e in events} == {"fraud_label"}
    assert {e.details["person_id"] for e in events} == {str(person.id)}
    assert {e.details["by"] for e in events} == {"ops"}
    # The creating session is refused on its next request, and its address too.
    assert api_lookup(client, session).status_code == 403
    other_address = api_session(client, raw, remote_addr="198.51.100.9")
    assert api_lookup(client, other_address).status_code == 200
    same_address = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw, REMOTE_ADDR="203.0.113.7")
    assert same_address.status_code == 403
    # Who, when, why.
    label = PersonLabel.objects.get()
    assert (label.label, label.reason, label.created_by_name) == ("fraud", "chargeback", "ops")
    person.refresh_from_db()
    assert (person.label, person.labelled_at, label.created_at) == ("fraud", now, now)
    event = SecurityEvent.objects.get(kind="person_labelled")
    assert (event.reason, event.details["person_id"]) == ("fraud", str(person.id))
    assert "chargeback" not in str(event.details)  # free text stays with the label


def test_legit_lifts_what_the_fraud_label_made(client, open_key):
    _key, raw = open_key
    person, session = _signed_up(client, raw)
    person_label(person=person, label="fraud")
    assert api_lookup(client, session).status_code == 403
    outcome = person_label(person=person, label="legit", reason="customer called")
    assert {b.kind for b in outcome.lifted} == {"session", "ip"}
    assert not _active().exists()
    assert api_lookup(client, session).status_code == 200
    assert SecurityEvent.objects.filter(kind="client_unblocked").count() == 2
    assert list(PersonLabel.objects.values_list("label", flat=True)) == ["legit", "fraud"]
    person.refresh_from_db()
    assert person.label == "legit"


def test_a_block_that_was_already_there_is_extended_and_never_lifted_by_legit(client, open_key):
    _key, raw = open_key
    person, _session = _signed_up(client, raw)
    staff_block = block_create(kind="ip", value="203.0.113.7", reason="scraping")  # permanent
    outcome = person_label(person=person, label="fraud")
    ip = next(item for item in outcome.applied if item.target == "ip")
    assert (ip.block.pk, ip.made) == (staff_block.pk, False)
    person_label(person=person, label="legit")
    staff_block.refresh_from_db()
    assert staff_block.is_active()


def test_legit_keeps_a_block_another_fraud_person_came_with(client, open_key):
    _key, raw = open_key
    ada, _ = _signed_up(client, raw)
    grace, grace_session = _signed_up(client, raw, email="grace@example.com")
    person_label(person=ada, label="fraud")
    person_label(person=grace, label="fraud")  # the same address: the block is extended
    outcome = person_label(person=ada, label="legit")
    assert [b.kind for b in outcome.kept] == ["ip"]
    assert [b.kind for b in outcome.lifted] == ["session"]
    assert _active("ip").exists()
    assert api_lookup(client, grace_session).status_code == 403


def test_a_verified_device_is_blocked_wherever_it_comes_from(client, make_api_key, settings):
    secret = os.urandom(32)
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "APPROOV_SECRET": base64.urlsafe_b64encode(secret).decode(),
    }
    _key, raw = make_api_key(required_verifications=["approov"])
    device = "ZGV2aWNlLTE="

    def attested(address: str):
        token = approov_token(secret, raw_key=raw, device=device)
        return {"HTTP_APPROOV_TOKEN": token, "REMOTE_ADDR": address}

    person, _ = _signed_up(client, raw, headers=attested("203.0.113.7"))
    person_label(person=person, label="fraud")
    assert _active("device").get().value == device
    # The same device from elsewhere is refused a new session.
    refused = client.post(
        "/api/v1/sessions", {}, format="json", HTTP_X_API_KEY=raw, **attested("198.51.100.9")
    )
    assert refused.status_code == 403 and refused.json()["code"] == "blocked"
    person_label(person=person, label="legit")
    again = client.post(
        "/api/v1/sessions", {}, format="json", HTTP_X_API_KEY=raw, **attested("198.51.100.9")
    )
    assert again.status_code == 201


def test_label_fraud_blocks_says_what_and_how_long(client, open_key, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "LABEL_FRAUD_BLOCKS": {"session": 3600}}
    _key, raw = open_key
    person, session = _signed_up(client, raw)
    now = timezone.now()
    person_label(person=person, label="fraud", now=now)
    [block] = _active()
    assert (block.kind, block.value) == ("session", session.session_id)
    assert block.expires_at == now + datetime.timedelta(hours=1)


def test_an_exempt_network_is_never_blocked_by_a_label(client, open_key, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "AUTO_BLOCK_EXEMPT_NETWORKS": ["203.0.113.0/24"]}
    _key, raw = open_key
    person, _ = _signed_up(client, raw)
    outcome = person_label(person=person, label="fraud")
    assert not _active("ip").exists()
    assert "ip" in {skipped.target for skipped in outcome.skipped}


def test_an_ipv6_client_is_blocked_by_its_slash_64(client, open_key):
    _key, raw = open_key
    person, _ = _signed_up(client, raw, remote_addr="2001:db8:7:7::1")
    person_label(person=person, label="fraud")
    assert _active("cidr").get().value == "2001:db8:7:7::/64"
    neighbour = client.post(
        "/api/v1/challenges", HTTP_X_API_KEY=raw, REMOTE_ADDR="2001:db8:7:7:ffff::2"
    )
    assert neighbour.status_code == 403


def test_after_the_snapshot_is_purged_the_creating_session_is_still_blocked(client, open_key):
    _key, raw = open_key
    person, session = _signed_up(client, raw)
    CreationSnapshot.objects.all().delete()
    outcome = person_label(person=person, label="fraud")
    assert [(item.target, item.block.value) for item in outcome.applied] == [
        ("session", session.session_id)
    ]
    assert {skipped.target for skipped in outcome.skipped} == {"device", "ip"}


def test_only_fraud_and_legit_are_labels(client, open_key):
    _key, raw = open_key
    person, _ = _signed_up(client, raw)
    with pytest.raises(ValueError, match="fraud or legit"):
        person_label(person=person, label="spam")
    assert not PersonLabel.objects.exists()
