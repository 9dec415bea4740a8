import pytest
from django.contrib.auth import get_user_model

from protection.core.events import SecurityEvent, event_record, event_scope

pytestmark = pytest.mark.django_db


def test_event_record_takes_ip_and_path_from_the_request_scope(api_key):
    key, _ = api_key
    with event_scope(client_ip="198.51.100.4", path="/api/v1/sessions"):
        event = event_record(kind="session_issued", decision="allow", api_key=key, details={"n": 1})
    stored = SecurityEvent.objects.get(pk=event.pk)
    assert (stored.client_ip, stored.path, stored.api_key, stored.details) == (
        "198.51.100.4",
        "/api/v1/sessions",
        key,
        {"n": 1},
    )


def test_events_are_append_only():
    event = event_record(kind="blocked", decision="deny", reason="because")
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
        kind="api_key_auth", decision="deny", reason="api_key_invalid", client_ip="203.0.113.9"
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


@pytest.fixture
def frozen_writer():
    """The denial writer's clock, held still (one second) unless moved."""
    from protection.core.events import denial_writer

    now = [1000.0]
    real = denial_writer.clock
    denial_writer.clock = lambda: now[0]
    yield now
    denial_writer.clock = real


def test_a_distributed_flood_of_denials_costs_bounded_writes_and_loses_no_count(
    client, settings, frozen_writer
):
    from protection.core.events import events_flush
    from protection.core.reputation import recent_denials

    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "AUTO_BLOCK_RULES": [],
        "EVENTS_MAX_WRITES_PER_SECOND": 20,
        "EVENTS_FLUSH_MAX_ROWS": 50,
        "EVENTS_FLUSH_INTERVAL": 3600,  # flushed by hand below
    }
    flood = 500
    for index in range(flood):  # many addresses, none over its own limit
        response = client.post(
            "/api/v1/challenges",
            HTTP_X_API_KEY="gh_pub_nonsense",
            REMOTE_ADDR=f"198.51.{index // 250}.{index % 250 + 1}",
        )
        assert response.status_code == 401
    # Within one second: the write budget, not one row per denial (alerts, such
    # as "no network-origin data", are not denials and not counted here).
    assert SecurityEvent.objects.filter(decision="deny").count() == 20
    assert events_flush() <= 50
    rows = SecurityEvent.objects.filter(kind="api_key_auth", reason="api_key_invalid")
    assert rows.count() <= 70
    # Every denial is accounted for: the rows say how many they stand for.
    assert sum(rows.values_list("count", flat=True)) == flood
    # And the listeners saw each one (reputation counts every address).
    assert recent_denials(client_ip="198.51.1.250") == 1


def test_past_the_write_budget_denials_become_counted_rows(frozen_writer, settings):
    from protection.core.events import events_flush

    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "AUTO_BLOCK_RULES": [],
        "EVENTS_MAX_WRITES_PER_SECOND": 20,
    }
    for _ in range(30):
        event_record(
            kind="token_auth", decision="deny", reason="token_invalid", client_ip="192.0.2.5"
        )
    # The budget of this second, at once (an alert a loaded machine's cache
    # timeout may add is no denial).
    denials = SecurityEvent.objects.filter(decision="deny")
    assert denials.count() == 20
    frozen_writer[0] += 2  # past EVENTS_FLUSH_INTERVAL: the next record flushes
    event_record(kind="token_auth", decision="deny", reason="token_invalid", client_ip="192.0.2.5")
    assert events_flush() == 0  # already flushed by that record
    assert denials.count() == 21 + 1  # a new second's budget, plus the flush
    counted = SecurityEvent.objects.get(count__gt=1)
    assert counted.count == 10 and str(counted).endswith("x10")


def test_allow_events_are_always_written_at_once(frozen_writer):
    for _ in range(30):
        event_record(kind="session_issued", decision="allow", client_ip="192.0.2.5")
    assert SecurityEvent.objects.filter(kind="session_issued").count() == 30
