"""Sessions in the admin: filter by key, status and IP; revoke selected."""

import datetime

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY, generate_latest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from protection.authentication import Caller, SessionTokenAuthentication
from protection.core.events import SecurityEvent
from protection.sessions import AnonymousSession, session_revoke

pytestmark = pytest.mark.django_db

URL = "/admin/protection/anonymoussession/"


@pytest.fixture
def staff() -> Client:
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw-123456!")
    browser = Client()
    browser.force_login(user)
    return browser


@pytest.fixture
def sessions(make_api_key, make_session):
    key_a, _ = make_api_key(name="app A")
    key_b, _ = make_api_key(name="app B")
    active = make_session(key_a, client_ip="192.0.2.10").session
    revoked = make_session(key_a, client_ip="192.0.2.11").session
    session_revoke(session=revoked, reason="test")
    expired = make_session(key_b, now=timezone.now() - datetime.timedelta(hours=3)).session
    return key_a, key_b, active, revoked, expired


def _listed(response) -> set[str]:
    return {str(session.pk) for session in response.context["cl"].result_list}


def test_filter_by_status(staff, sessions):
    _, _, active, revoked, expired = sessions
    assert _listed(staff.get(URL, {"status": "active"})) == {str(active.pk)}
    assert _listed(staff.get(URL, {"status": "revoked"})) == {str(revoked.pk)}
    assert _listed(staff.get(URL, {"status": "expired"})) == {str(expired.pk)}
    assert len(_listed(staff.get(URL))) == 3


def test_filter_by_key_and_search_by_ip(staff, sessions):
    key_a, key_b, active, revoked, expired = sessions
    assert _listed(staff.get(URL, {"api_key__id__exact": key_b.pk})) == {str(expired.pk)}
    assert _listed(staff.get(URL, {"q": "192.0.2.10"})) == {str(active.pk)}
    assert _listed(staff.get(URL, {"client_ip": "192.0.2.11"})) == {str(revoked.pk)}
    assert _listed(staff.get(URL, {"client_ip": "not-an-ip"})) == set()
    page = staff.get(URL).content.decode()
    assert "192.0.2.10 (1)" in page  # offered among the busiest IPs


def test_detail_page_hides_the_refresh_family_state(staff, sessions):
    _, _, active, _, _ = sessions
    response = staff.get(f"{URL}{active.pk}/change/")
    assert response.status_code == 200
    assert active.refresh_jti not in response.content.decode()


def test_revoke_selected(staff, sessions):
    _, _, active, revoked, _ = sessions
    response = staff.post(
        URL,
        {"action": "revoke_selected", "_selected_action": [str(active.pk), str(revoked.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 session(s) revoked." in response.content.decode()
    active.refresh_from_db()
    assert active.revoked_at is not None and active.revoked_reason == "admin"
    event = SecurityEvent.objects.get(kind="session_revoked", session_id=active.pk)
    assert event.reason == "admin"
    # Who revoked it is in the admin's history of the session, not in the event.
    entry = LogEntry.objects.get(object_id=str(active.pk))
    assert (entry.user.get_username(), entry.get_change_message()) == (
        "admin",
        "Revoked the session.",
    )
    assert not LogEntry.objects.filter(object_id=str(revoked.pk)).exists()  # already revoked


def test_revoking_from_the_admin_puts_no_staff_name_in_a_metric(staff, sessions):
    _, _, active, _, _ = sessions
    staff.post(URL, {"action": "revoke_selected", "_selected_action": [str(active.pk)]})
    text = generate_latest(REGISTRY).decode()
    revoked = [line for line in text.splitlines() if 'kind="session_revoked"' in line]
    assert any('reason="admin"' in line for line in revoked), revoked
    assert not any("admin:" in line for line in revoked)


def test_session_authentication_gives_views_the_session_and_key(api_key, make_session):
    key, raw = api_key
    issued = make_session(key)
    request = Request(
        APIRequestFactory().get(
            "/", HTTP_X_API_KEY=raw, HTTP_AUTHORIZATION=f"Bearer {issued.access}"
        )
    )
    user, caller = SessionTokenAuthentication().authenticate(request)
    assert user.is_authenticated and user.pk == issued.session.pk
    assert isinstance(caller, Caller)
    assert (caller.api_key, caller.session.id) == (key, issued.session.pk)
    assert caller.session.api_key == key


def test_sessions_cannot_be_deleted_from_the_admin(staff, sessions):
    _, _, active, _, _ = sessions
    page = staff.get(URL).content.decode()
    assert "delete_selected" not in page
    assert staff.get(f"{URL}{active.pk}/delete/").status_code == 403
    response = staff.post(URL, {"action": "delete_selected", "_selected_action": [str(active.pk)]})
    assert AnonymousSession.objects.filter(pk=active.pk).exists()
    assert response.status_code in (200, 302)


def test_session_ids_are_truncated_with_the_full_value_on_hover(staff, sessions):
    _, _, active, _, _ = sessions
    page = staff.get(URL).content.decode()
    assert f'<span title="{active.pk}">{str(active.pk)[:8]}…</span>' in page
