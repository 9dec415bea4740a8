"""Verification in the admin: pending sign-ups read-only and searchable by exact
address, never a code; SMS sends and confirmations per phone prefix."""

import pytest

from protection.blocks import block_create
from signup.models import PendingSignup
from tests.support.signup import person_body
from tests.support.verification import last_code

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/signup/pendingsignup/"


@pytest.fixture
def phone_mode(signup_settings):
    signup_settings(SIGNUP_VERIFY="phone")


def test_pending_sign_ups_are_listed_read_only_without_codes(admin_client, make_caller, phone_mode):
    make_caller().create(person_body(phone="+12015550123"))
    code = last_code("+12015550123")
    pending = PendingSignup.objects.get()
    listing = admin_client.get(CHANGELIST)
    assert listing.status_code == 200
    assert "SMS sends per prefix" in listing.text and "code" in listing.text
    detail = admin_client.get(f"{CHANGELIST}{pending.pk}/change/")
    assert detail.status_code == 200
    assert code not in listing.text and code not in detail.text
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403


@pytest.mark.parametrize(("term", "found"), [("(201) 555-0123", 1), ("+12015550199", 0), ("", 1)])
def test_pending_sign_ups_are_found_by_their_exact_address(
    admin_client, make_caller, phone_mode, term, found
):
    make_caller().create(person_body(phone="+12015550123"))
    response = admin_client.get(CHANGELIST, {"q": term})
    assert len(response.context["cl"].result_list) == found


def test_sends_per_prefix_show_the_conversion_and_the_block(admin_client, make_caller, phone_mode):
    for n in range(3):
        caller = make_caller()
        phone = f"+1201555010{n}"
        caller.create(person_body(email=f"p{n}@example.com", phone=phone))
        if n == 0:
            assert caller.confirm({"phone": phone, "code": last_code(phone)}).status_code == 201
    make_caller().create(person_body(email="q@example.com", phone="+12025550100"))
    block_create(kind="phone_prefix", value="+1202555", reason="staff")
    response = admin_client.get(f"{CHANGELIST}sms-prefixes/")
    assert response.status_code == 200
    rows = {row["prefix"]: row for row in response.context["rows"]}
    first = rows["+1201555"]
    assert (first["sends_hour"], first["sends_day"], first["confirmed_day"]) == (3, 3, 1)
    assert first["rate_day"] == 33 and first["block"] is None
    assert rows["+1202555"]["block"] is not None
    assert "?kind=phone_prefix&amp;value=%2B1201555" in response.text


def test_sends_per_prefix_need_the_view_permission(client, django_user_model):
    user = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(f"{CHANGELIST}sms-prefixes/").status_code == 403
