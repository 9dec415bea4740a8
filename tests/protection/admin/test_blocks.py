"""Blocks in the admin, and the "block their IPs" actions, through the test client."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from protection.admin.blocks import BlockDurationActionForm, block_session_ips
from protection.base.exceptions import ProtectionError
from protection.blocks import BlockedClient, block_create, blocks_check
from protection.core.events import SecurityEvent, event_record

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/protection/blockedclient/"


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456!")


@pytest.fixture
def admin_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def blocks(staff):
    past = timezone.now() - datetime.timedelta(days=2)
    return {
        "staff_ip": block_create(kind="ip", value="203.0.113.1", reason="manual", created_by=staff),
        "rule_cidr": block_create(
            kind="cidr",
            value="2001:db8::/48",
            reason="auto",
            rule="ip-rate-limited",
            duration=datetime.timedelta(hours=1),
        ),
        "expired": block_create(
            kind="device", value="dev-old", duration=datetime.timedelta(hours=1), now=past
        ),
    }


def _rows(response) -> str:
    return response.content.decode()


def test_list_shows_blocks_with_creator_and_state(admin_client, blocks):
    page = _rows(admin_client.get(CHANGELIST))
    assert "203.0.113.1" in page and "2001:db8::/48" in page and "dev-old" in page
    assert "rule ip-rate-limited" in page and "root" in page


@pytest.mark.parametrize(
    "query,present,absent",
    [
        ("kind__exact=cidr", ["2001:db8::/48"], ["203.0.113.1", "dev-old"]),
        ("state=active", ["203.0.113.1", "2001:db8::/48"], ["dev-old"]),
        ("state=ended", ["dev-old"], ["203.0.113.1"]),
        ("origin=staff", ["203.0.113.1", "dev-old"], ["2001:db8::/48"]),
        ("origin=rule:ip-rate-limited", ["2001:db8::/48"], ["203.0.113.1"]),
        ("q=203.0.113", ["203.0.113.1"], ["2001:db8::/48"]),
    ],
)
def test_filters_and_search(admin_client, blocks, query, present, absent):
    page = _rows(admin_client.get(f"{CHANGELIST}?{query}"))
    for value in present:
        assert f">{value}<" in page or value in page
    for value in absent:
        assert value not in page


@pytest.mark.parametrize(
    "kind,value,stored",
    [
        ("ip", "::ffff:198.51.100.4", "198.51.100.4"),
        ("cidr", "198.51.100.9/24", "198.51.100.0/24"),
        ("session", "6F9619FF-8B86-D011-B42D-00CF4FC964FF", "6f9619ff-8b86-d011-b42d-00cf4fc964ff"),
        ("device", "dev-9", "dev-9"),
        ("email_domain", "Spam.Example", "spam.example"),
    ],
)
def test_add_form_accepts_every_kind(admin_client, staff, kind, value, stored):
    response = admin_client.post(
        f"{CHANGELIST}add/", {"kind": kind, "value": value, "duration": "2h", "reason": "r"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    block = BlockedClient.objects.get()
    assert (block.kind, block.value, block.created_by) == (kind, stored, staff)
    assert block.expires_at is not None
    assert SecurityEvent.objects.filter(kind="client_blocked").exists()


def test_add_form_blocks_an_ipv6_clients_slash_64_and_broad_networks_with_force(admin_client):
    response = admin_client.post(f"{CHANGELIST}add/", {"kind": "ip", "value": "2001:db8::5"})
    assert response.status_code == 302
    block = BlockedClient.objects.get()
    assert (block.kind, block.value) == ("cidr", "2001:db8::/64")
    response = admin_client.post(
        f"{CHANGELIST}add/", {"kind": "cidr", "value": "10.0.0.0/8", "force": "on"}
    )
    assert response.status_code == 302
    assert BlockedClient.objects.filter(value="10.0.0.0/8").exists()


def test_add_form_takes_a_key_public_id_and_is_effective_at_once(admin_client, api_key):
    key, _raw = api_key
    response = admin_client.post(f"{CHANGELIST}add/", {"kind": "api_key", "value": key.public_id})
    assert response.status_code == 302
    assert BlockedClient.objects.get().expires_at is None  # no duration: permanent
    with pytest.raises(ProtectionError):
        blocks_check(api_key=key)


@pytest.mark.parametrize(
    "data,field",
    [
        ({"kind": "ip", "value": "10.0.0.0/8"}, "value"),
        ({"kind": "cidr", "value": "nope"}, "value"),
        ({"kind": "cidr", "value": "0.0.0.0/0"}, "value"),  # broad: needs "force"
        ({"kind": "cidr", "value": "2001:db8::/32"}, "value"),
        ({"kind": "api_key", "value": "short"}, "value"),
        ({"kind": "ip", "value": "10.0.0.1", "duration": "soon"}, "duration"),
        ({"kind": "laptop", "value": "x"}, "kind"),
    ],
)
def test_add_form_errors_not_500(admin_client, data, field):
    response = admin_client.post(f"{CHANGELIST}add/", data)
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not BlockedClient.objects.exists()


def test_lift_action(admin_client, blocks):
    ids = [blocks["staff_ip"].pk, blocks["rule_cidr"].pk]
    response = admin_client.post(
        CHANGELIST, {"action": "lift_blocks", "_selected_action": ids}, follow=True
    )
    assert "Lifted 2 block(s)." in response.content.decode()
    assert not BlockedClient.objects.get(pk=ids[0]).is_active()
    blocks_check(ip="203.0.113.1")  # no longer raises


def test_non_staff_cannot_reach_blocks(db):
    user = get_user_model().objects.create_user("pleb", password="pw-123456!")
    client = Client()
    client.force_login(user)
    assert client.get(CHANGELIST).status_code == 302


def test_event_action_blocks_the_events_ips_for_a_duration(admin_client):
    first = event_record(kind="rate_limited", decision="deny", client_ip="192.0.2.10")
    second = event_record(kind="token_auth", decision="deny", client_ip="192.0.2.10")
    third = event_record(kind="challenge_failed", decision="deny", client_ip="192.0.2.11")
    response = admin_client.post(
        "/admin/protection/securityevent/",
        {
            "action": "block_event_ips",
            "_selected_action": [first.pk, second.pk, third.pk],
            "duration": "30m",
        },
        follow=True,
    )
    assert "Blocked 2 IP address(es) for 30m." in response.content.decode()
    values = set(BlockedClient.objects.values_list("value", flat=True))
    assert values == {"192.0.2.10", "192.0.2.11"}
    block = BlockedClient.objects.get(value="192.0.2.10")
    assert (
        datetime.timedelta(minutes=29)
        < block.expires_at - block.created_at
        <= (datetime.timedelta(minutes=30))
    )


def test_event_action_with_a_bad_duration_blocks_nothing(admin_client):
    event = event_record(kind="rate_limited", decision="deny", client_ip="192.0.2.10")
    response = admin_client.post(
        "/admin/protection/securityevent/",
        {"action": "block_event_ips", "_selected_action": [event.pk], "duration": "a while"},
        follow=True,
    )
    assert response.status_code == 200
    assert "Invalid duration" in response.content.decode()
    assert not BlockedClient.objects.exists()


def test_session_action_blocks_the_sessions_ips(rf, staff, api_key, make_session):
    from django.contrib.admin import site
    from django.contrib.messages.storage.fallback import FallbackStorage

    from protection.sessions import AnonymousSession

    key, _raw = api_key
    make_session(key, client_ip="198.51.100.20")
    make_session(key, client_ip="2001:db8::20")
    request = rf.post("/", {"duration": "7d"})
    request.user = staff
    request.session = {}
    request._messages = FallbackStorage(request)

    class _SessionAdmin:
        def message_user(self, request, message, level):
            self.message = message

    model_admin = _SessionAdmin()
    block_session_ips(model_admin, request, AnonymousSession.objects.all())
    assert set(BlockedClient.objects.values_list("value", flat=True)) == {
        "198.51.100.20",
        "2001:db8::/64",  # an IPv6 client is blocked by its /64
    }
    assert model_admin.message == "Blocked 2 IP address(es) for 7d."
    assert "duration" in BlockDurationActionForm().fields
    assert site  # the action is a plain admin action function, attachable to any ModelAdmin


def test_change_form_edits_reason_and_end_with_an_event(admin_client, blocks):
    block = blocks["staff_ip"]
    until = timezone.now() + datetime.timedelta(hours=3)
    response = admin_client.post(
        f"{CHANGELIST}{block.pk}/change/",
        {
            "reason": "edited",
            "expires_at_0": until.strftime("%Y-%m-%d"),
            "expires_at_1": until.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    block.refresh_from_db()
    assert block.reason == "edited" and block.expires_at is not None
    assert SecurityEvent.objects.filter(kind="client_block_changed").count() == 1
    assert admin_client.get(f"{CHANGELIST}{block.pk}/delete/").status_code == 403
