"""People in the admin: searchable by email/phone, filterable, creation metadata read-only."""

import datetime
import uuid

import pytest
from django.utils import timezone

from signup.persons import Person

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/signup/person/"


@pytest.fixture
def people(make_api_key):
    key_a, _ = make_api_key(name="web app")
    key_b, _ = make_api_key(name="mobile app")
    old = timezone.now() - datetime.timedelta(days=40)
    return {
        "ada": Person.objects.create(
            email="Ada@example.com",
            phone="+12015550123",
            full_name="Ada Lovelace",
            created_by_key=key_a,
            created_in_session=uuid.uuid4(),
        ),
        "grace": Person.objects.create(
            email="grace@example.org",
            full_name="Grace Hopper",
            created_by_key=key_b,
            created_at=old,
        ),
        "keys": (key_a, key_b),
    }


def _names(response) -> set[str]:
    return {p.full_name for p in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("Ada@example.com", {"Ada Lovelace"}),
        ("  Ada@EXAMPLE.COM ", {"Ada Lovelace"}),  # normalised like the API does
        ("example.org", {"Grace Hopper"}),
        ("(201) 555-0123", {"Ada Lovelace"}),
        ("+12015550123", {"Ada Lovelace"}),
        ("5550123", {"Ada Lovelace"}),
        ("Hopper", {"Grace Hopper"}),
        ("nobody@example.com", set()),
    ],
)
def test_search_by_email_and_phone(admin_client, people, term, expected):
    response = admin_client.get(CHANGELIST, {"q": term})
    assert response.status_code == 200
    assert _names(response) == expected


def test_filter_by_key_and_creation_date(admin_client, people):
    key_a, key_b = people["keys"]
    by_key = admin_client.get(CHANGELIST, {"created_by_key__id__exact": key_b.id})
    assert _names(by_key) == {"Grace Hopper"}
    # The "Past 7 days" choice of the date filter, as the admin links it.
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    recent = admin_client.get(
        CHANGELIST,
        {
            "created_at__gte": str(today - datetime.timedelta(days=7)),
            "created_at__lt": str(today + datetime.timedelta(days=1)),
        },
    )
    assert _names(recent) == {"Ada Lovelace"}


def test_creation_metadata_is_read_only(admin_client, people):
    ada = people["ada"]
    page = admin_client.get(f"{CHANGELIST}{ada.pk}/change/")
    assert page.status_code == 200
    form_fields = set(page.context["adminform"].form.fields)
    assert form_fields == {"email", "phone", "full_name"}
    _, key_b = people["keys"]
    response = admin_client.post(
        f"{CHANGELIST}{ada.pk}/change/",
        {
            "email": " Ada@EXAMPLE.com ",
            "phone": "(201) 555-0199",
            "full_name": "Ada King",
            "created_by_key": key_b.id,
            "created_in_session": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 302
    ada_after = Person.objects.get(pk=ada.pk)
    assert (ada_after.email, ada_after.phone, ada_after.full_name) == (
        "Ada@example.com",
        "+12015550199",
        "Ada King",
    )
    assert ada_after.created_by_key == ada.created_by_key
    assert ada_after.created_in_session == ada.created_in_session
    assert ada_after.created_at == ada.created_at


def test_admin_edits_are_validated_like_the_api(admin_client, people):
    ada = people["ada"]
    response = admin_client.post(
        f"{CHANGELIST}{ada.pk}/change/",
        {"email": "not an email", "phone": "12", "full_name": "Ada\x07"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"email", "phone", "full_name"}
    assert Person.objects.get(pk=ada.pk).email == "Ada@example.com"


def test_admin_edit_to_a_taken_email_is_a_form_error(admin_client, people):
    grace = people["grace"]
    response = admin_client.post(
        f"{CHANGELIST}{grace.pk}/change/",
        {"email": "Ada@EXAMPLE.com", "phone": "", "full_name": "Grace Hopper"},
    )
    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
