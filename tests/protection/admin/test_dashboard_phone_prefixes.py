"""The dashboard shows the phone prefixes blocked now (SMS pumping) and labels
the verification events."""

import datetime

import pytest
from django.utils import timezone

from protection.admin.dashboard import kind_label
from protection.blocks import block_create, block_lift

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/protection/securityevent/dashboard/"


def test_blocked_phone_prefixes_are_listed_until_they_end(admin_client):
    live = block_create(
        kind="phone_prefix",
        value="+1201555",
        reason="automatic: sms-pumping",
        rule="sms-pumping",
        duration=datetime.timedelta(hours=12),
    )
    lifted = block_create(kind="phone_prefix", value="+1202555", reason="staff")
    block_lift(block=lifted, now=timezone.now())
    block_create(kind="ip", value="192.0.2.1", reason="staff")
    response = admin_client.get(DASHBOARD)
    assert response.status_code == 200
    assert [block.pk for block in response.context["phone_prefix_blocks"]] == [live.pk]
    assert "+1201555" in response.text and "sms-pumping" in response.text
    assert "+1202555" not in response.text


def test_verification_events_have_labels():
    assert kind_label("sms_pumping_suspected") == "SMS pumping suspected"
    assert kind_label("verification_failed") == "Wrong or expired codes"
