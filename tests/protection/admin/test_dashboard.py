"""The security dashboard in the admin: staff only, chart and tables from events."""

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from protection.admin.dashboard import axis_ticks, events_per_hour, kind_label, top_offenders
from protection.blocks import block_create
from protection.core.events import SecurityEvent

pytestmark = pytest.mark.django_db

URL = "/admin/protection/securityevent/dashboard/"


def _staff(username: str, *permissions: str) -> Client:
    user = get_user_model().objects.create_user(username, password="pw-123456!", is_staff=True)
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(db) -> Client:
    return _staff("staff", "view_securityevent", "view_apikey")


def _event(kind, decision="deny", hours_ago=0, ip="203.0.113.1", api_key=None):
    SecurityEvent.objects.create(
        kind=kind,
        decision=decision,
        client_ip=ip,
        api_key=api_key,
        created_at=timezone.now() - datetime.timedelta(hours=hours_ago, minutes=1),
    )


def test_anonymous_and_non_staff_are_sent_to_login(client, db):
    assert client.get(URL).status_code == 302
    user = get_user_model().objects.create_user("pleb", password="pw-123456!")
    plain = Client()
    plain.force_login(user)
    response = plain.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_admin_index_links_to_the_dashboard(staff_client):
    page = staff_client.get("/admin/").content.decode()
    assert f'href="{URL}"' in page


def test_staff_without_the_security_event_permission_get_no_dashboard(db):
    _event("rate_limited", ip="198.51.100.66")
    other_staff = _staff("blocks-only", "view_blockedclient")
    response = other_staff.get(URL)
    assert response.status_code == 403
    assert b"198.51.100.66" not in response.content
    assert f'href="{URL}"' not in other_staff.get("/admin/").content.decode()


def test_the_url_is_the_apps_own(staff_client):
    # Mounted by SecurityEventAdmin.get_urls: no project URL to copy.
    assert reverse("admin:protection_securityevent_dashboard") == URL


def test_dashboard_shows_chart_offenders_and_active_blocks(staff_client, api_key):
    key, _raw = api_key
    for _ in range(5):
        _event("rate_limited", ip="198.51.100.66")
    for _ in range(2):
        _event("token_invalid", hours_ago=3, ip="198.51.100.67", api_key=key)
    _event("session_issued", decision="allow", hours_ago=5)
    _event("rate_limited", hours_ago=30)  # older than 24 h: not shown
    block_create(kind="ip", value="192.0.2.1")
    block_create(kind="ip", value="192.0.2.2", duration=datetime.timedelta(hours=1))
    block_create(
        kind="ip",
        value="192.0.2.3",
        duration=datetime.timedelta(hours=1),
        now=timezone.now() - datetime.timedelta(hours=2),
    )
    response = staff_client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert '<svg id="events-chart"' in page
    assert 'src="http' not in page and "cdn" not in page.lower()  # nothing from elsewhere
    assert page.count('class="bar"') >= 3  # three hours with events, stacked by kind
    assert "Rate limited (rate_limited): 5" in page and "(token_invalid): 2" in page
    assert response.context["active_blocks"] == 2
    assert '<strong id="active-blocks">2</strong>' in page
    ips = response.context["offenders"]["ips"]
    assert [(row["client_ip"], row["n"]) for row in ips][:2] == [
        ("198.51.100.66", 5),
        ("198.51.100.67", 2),
    ]
    keys = response.context["offenders"]["keys"]
    assert [(row["api_key__public_id"], row["n"]) for row in keys] == [(key.public_id, 2)]
    assert key.public_id in page
    # Top keys link to their keys.
    assert f'href="{reverse("admin:protection_apikey_change", args=[key.pk])}"' in page
    # A y-axis with round ticks from 0 up to (at least) the busiest hour.
    ticks = [int(t) for t in re.findall(r'<text class="y-tick"[^>]*>(\d+)</text>', page)]
    peak = response.context["chart"]["peak"]
    assert peak >= 5 and ticks == axis_ticks(peak)
    assert ticks[0] == 0 and ticks[-1] >= peak and len(ticks) <= 5
    # Human labels in the legend and totals; labels readable in dark mode.
    assert ">Rate limited</li>" in page
    assert "#events-chart text { fill: var(--body-fg)" in page
    assert "ul.legend li { list-style: none" in page


def test_axis_ticks_are_round_and_cover_the_peak():
    assert axis_ticks(1) == [0, 1]
    assert axis_ticks(4) == [0, 1, 2, 3, 4]
    assert axis_ticks(5) == [0, 2, 4, 6]
    assert axis_ticks(37) == [0, 10, 20, 30, 40]
    assert axis_ticks(1200) == [0, 500, 1000, 1500]


def test_kind_labels_are_human_even_for_new_kinds():
    assert kind_label("challenge_failed") == "Proof of work failed"
    assert kind_label("api_key_something_new") == "API key something new"


def test_series_has_24_hours_and_folds_rare_kinds_into_other():
    for i in range(10):
        _event(f"kind{i}", hours_ago=i % 24)
    series = events_per_hour(now=timezone.now())
    assert len(series["hours"]) == 24 and len(series["counts"]) == 24
    assert series["kinds"][-1] == "other" and len(series["kinds"]) == 8
    assert sum(sum(hour.values()) for hour in series["counts"]) == 10


def test_empty_dashboard_renders(staff_client):
    response = staff_client.get(URL)
    assert response.status_code == 200
    assert response.context["active_blocks"] == 0


def test_the_dashboard_adds_up_counted_rows(admin_client):
    # A row standing for 40 added-up denials counts as 40, not 1.
    SecurityEvent.objects.create(
        kind="api_key_auth",
        decision="deny",
        reason="api_key_invalid",
        client_ip="192.0.2.77",
        count=40,
    )
    SecurityEvent.objects.create(
        kind="api_key_auth", decision="deny", reason="api_key_invalid", client_ip="192.0.2.78"
    )
    offenders = top_offenders(since=timezone.now() - datetime.timedelta(hours=1))
    assert [(row["client_ip"], row["n"]) for row in offenders["ips"]][:2] == [
        ("192.0.2.77", 40),
        ("192.0.2.78", 1),
    ]
