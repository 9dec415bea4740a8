import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from protection.events import SecurityEvent, event_record

pytestmark = pytest.mark.django_db


def test_event_record_takes_ip_and_path_from_the_request(api_key):
    key, _ = api_key
    request = RequestFactory().post("/api/v1/sessions", REMOTE_ADDR="::ffff:198.51.100.4")
    event = event_record(
        kind="session_issued", decision="allow", request=request, api_key=key, details={"n": 1}
    )
    stored = SecurityEvent.objects.get(pk=event.pk)
    assert (stored.client_ip, stored.path, stored.api_key, stored.details) == (
        "198.51.100.4",
        "/api/v1/sessions",
        key,
        {"n": 1},
    )


def test_events_are_append_only():
    event = event_record(kind="test", decision="deny", reason="because")
    event.reason = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    assert SecurityEvent.objects.get(pk=event.pk).reason == "because"


@pytest.fixture
def superuser_client(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(user)
    return client


def test_admin_lists_filters_and_searches_events_read_only(superuser_client):
    event_record(
        kind="api_key_invalid", decision="deny", reason="api_key_invalid", client_ip="203.0.113.9"
    )
    event_record(kind="session_issued", decision="allow", client_ip="198.51.100.1")

    listing = superuser_client.get("/admin/protection/securityevent/?decision__exact=deny")
    assert listing.status_code == 200
    assert b"203.0.113.9" in listing.content and b"198.51.100.1" not in listing.content

    searched = superuser_client.get("/admin/protection/securityevent/?q=198.51.100.1")
    assert b"198.51.100.1" in searched.content and b"203.0.113.9" not in searched.content

    event = SecurityEvent.objects.first()
    assert superuser_client.get("/admin/protection/securityevent/add/").status_code == 403
    delete_url = f"/admin/protection/securityevent/{event.pk}/delete/"
    assert superuser_client.post(delete_url, {"post": "yes"}).status_code == 403
    change = superuser_client.post(
        f"/admin/protection/securityevent/{event.pk}/change/", {"reason": "edited"}
    )
    assert change.status_code == 403
    assert SecurityEvent.objects.filter(reason="edited").count() == 0
