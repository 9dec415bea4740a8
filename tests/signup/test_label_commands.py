"""Labelling from the command line and the admin, and the export for tuning:
one row per labelled person with the signals known at creation, and no
email, phone, name, address or device id in it."""

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command

from protection.blocks import BlockedClient
from signup.export import EXPORT_COLUMNS
from signup.labels import PersonLabel, person_label
from signup.persons import Person
from tests.support.signup import person_body
from tests.support.signupflow import api_create, api_session

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/signup/person/"
ADA = {"email": "ada.lovelace@example.com", "full_name": "Ada Lovelace", "phone": "+12015550123"}
GRACE = {"email": "grace.hopper@example.org", "full_name": "Grace Hopper", "phone": "+12015550188"}


@pytest.fixture
def people(client, make_api_key):
    _key, raw = make_api_key(required_verifications=[])
    created = {}
    for name, body, address in (
        ("ada", ADA, "203.0.113.7"),
        ("grace", GRACE, "2001:db8:5:6::9"),
    ):
        session = api_session(client, raw, remote_addr=address, device_id=f"{name}-phone-77")
        response = api_create(client, session, person_body(**body))
        assert response.status_code == 201, response.content
        created[name] = Person.objects.get(pk=response.json()["id"])
    return created


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_label_person_fraud_then_legit(people):
    ada = people["ada"]
    output = _run("label_person", str(ada.id), "--fraud", "--reason", "chargeback", "--by", "ops")
    assert output.splitlines()[0] == f"Labelled person {ada.id} fraud"
    assert "blocked session" in output and "blocked ip (ip 203.0.113.7)" in output
    assert "not blocked: device: a claimed device id" in output
    label = PersonLabel.objects.get()
    assert (label.reason, label.created_by_name) == ("chargeback", "ops")
    output = _run("label_person", str(ada.id), "--legit")
    assert output.count("lifted block") == 2
    assert not BlockedClient.objects.filter(lifted_at__isnull=True).exists()
    assert PersonLabel.objects.first().created_by_name.endswith("(label_person)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-a-uuid", "--fraud"], "is not a person id"),
        (["8c5e7a0e-3f57-4d36-9d0e-0b9a3f0c2b11", "--fraud"], "No person"),
    ],
)
def test_label_person_refuses_what_is_not_a_person(people, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("label_person", *args)


def test_label_person_needs_exactly_one_label(people):
    with pytest.raises(CommandError):
        call_command("label_person", str(people["ada"].id))
    with pytest.raises(CommandError):
        call_command("label_person", str(people["ada"].id), "--fraud", "--legit")


def test_the_admin_labels_with_a_reason_and_shows_what_each_label_did(admin_client, people):
    ada = people["ada"]
    response = admin_client.post(
        CHANGELIST,
        {"action": "label_fraud", "_selected_action": [str(ada.pk)], "reason": "bot farm"},
        follow=True,
    )
    assert response.status_code == 200
    assert "Labelled 1 person(s) fraud: blocked 2 client(s)." in response.content.decode()
    label = PersonLabel.objects.get()
    assert (label.label, label.reason, label.created_by.username) == ("fraud", "bot farm", "admin")
    page = admin_client.get(f"{CHANGELIST}{ada.pk}/change/").content.decode()
    assert "bot farm" in page and "fraud" in page and "/admin/protection/blockedclient/" in page
    assert "not device: a claimed device id" in page
    listing = admin_client.get(CHANGELIST, {"label": "fraud"})
    assert [p.pk for p in listing.context["cl"].result_list] == [ada.pk]
    admin_client.post(
        CHANGELIST, {"action": "label_legit", "_selected_action": [str(ada.pk)], "reason": ""}
    )
    assert not BlockedClient.objects.filter(lifted_at__isnull=True).exists()


def _personal_data_in(text: str, people: dict) -> list[str]:
    # Whole values and surnames: a first name like "Ada" is made of hex digits,
    # and ids and digests are hex.
    found = []
    for body, address, device in (
        (ADA, "203.0.113.7", "ada-phone-77"),
        (GRACE, "2001:db8:5:6", "grace-phone-77"),
    ):
        local = body["email"].split("@")[0]
        for value in (
            local,
            body["email"],
            body["phone"],
            body["phone"][-7:],
            body["full_name"],
            body["full_name"].split()[-1],
            address,
            device,
        ):
            if value.lower() in text.lower():
                found.append(value)
    return found


@pytest.fixture
def labelled(people):
    person_label(person=people["ada"], label="fraud", reason="ada.lovelace@example.com paid")
    person_label(person=people["grace"], label="legit", reason="called +12015550188")
    return people


def test_export_jsonl_has_one_row_per_labelled_person_and_no_personal_data(labelled):
    output = _run("export_labels", "--format", "jsonl")
    rows = [json.loads(line) for line in output.splitlines()]
    assert [row["label"] for row in rows] == ["fraud", "legit"]
    assert all(tuple(row) == EXPORT_COLUMNS for row in rows)
    ada = rows[0]
    assert ada["person_id"] == str(labelled["ada"].id)
    assert ada["verdict_action"] == "allow" and ada["risk"] == 0
    assert ada["velocity"]["ip"] == {"10/m": 1, "100/d": 1}
    assert ada["device_verified"] is False and len(ada["device_digest"]) == 32
    assert ada["ip_digest"] != rows[1]["ip_digest"]
    assert ada["snapshot_kept"] is True
    assert _personal_data_in(output, labelled) == []


def test_export_csv_has_the_columns_and_no_personal_data(labelled):
    output = _run("export_labels", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(output)))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert [row["label"] for row in rows] == ["fraud", "legit"]
    assert json.loads(rows[0]["velocity"])["session"] == {"5/m": 1, "20/d": 1}
    assert rows[0]["device_verified"] == "false"
    assert _personal_data_in(output, labelled) == []


def test_export_since_and_to_a_file(labelled, tmp_path):
    assert _run("export_labels", "--since", "2999-01-01") == ""
    path = tmp_path / "labels.jsonl"
    call_command("export_labels", "--since", "2000-01-01T00:00:00", "--output", str(path))
    assert len(path.read_text().splitlines()) == 2
    with pytest.raises(CommandError, match="Invalid --since"):
        call_command("export_labels", "--since", "last tuesday")


def test_unlabelled_persons_are_not_exported(people):
    assert _run("export_labels") == ""
