"""Anonymous sessions: issue, authenticate, rotate, detect reuse, revoke, purge."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from protection.base.exceptions import ProtectionError
from protection.core.events import SecurityEvent
from protection.sessions import (
    AnonymousSession,
    session_authenticate,
    session_refresh,
    session_revoke,
    sessions_purge_expired,
)

pytestmark = pytest.mark.django_db


def test_issue_records_the_session_and_an_event(api_key, make_session):
    key, _ = api_key
    issued = make_session(key, user_agent="UA/1", device_id="dev-1")
    session = AnonymousSession.objects.get(pk=issued.session.pk)
    assert (session.client_ip, session.user_agent, session.device_id) == (
        "127.0.0.1",
        "UA/1",
        "dev-1",
    )
    assert session.expires_at - session.created_at == datetime.timedelta(hours=2)
    assert issued.expires_in == 300 and issued.token_type == "Bearer"
    event = SecurityEvent.objects.get(kind="session_issued")
    assert event.session_id == session.id and event.api_key == key


def test_lifetimes_are_configurable(api_key, make_session, settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "ACCESS_TOKEN_LIFETIME": 60,
        "SESSION_LIFETIME": 600,
    }
    key, _ = api_key
    issued = make_session(key)
    assert issued.expires_in == 60
    assert issued.session.expires_at - issued.session.created_at == datetime.timedelta(minutes=10)


def test_tokens_never_outlive_the_session(api_key, make_session, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "SESSION_LIFETIME": 100}
    key, _ = api_key
    assert make_session(key).expires_in == 100


def test_authenticate_returns_the_active_session(api_key, make_session):
    key, _ = api_key
    issued = make_session(key)
    assert session_authenticate(raw_token=issued.access, api_key=key) == issued.session


def test_session_past_its_absolute_lifetime_is_expired(api_key, make_session):
    key, _ = api_key
    issued = make_session(key)
    later = timezone.now() + datetime.timedelta(hours=2, seconds=1)
    with pytest.raises(ProtectionError) as refused:
        session_authenticate(raw_token=issued.access, api_key=key, now=later)
    assert refused.value.code == "session_expired"


def test_revocation_is_immediate(api_key, make_session):
    key, _ = api_key
    issued = make_session(key)
    session_authenticate(raw_token=issued.access, api_key=key)
    assert session_revoke(session=issued.session, reason="test") is True
    assert session_revoke(session=issued.session, reason="again") is False  # idempotent
    with pytest.raises(ProtectionError) as refused:
        session_authenticate(raw_token=issued.access, api_key=key)
    assert refused.value.code == "session_revoked"
    with pytest.raises(ProtectionError) as refused:
        session_refresh(raw_refresh=issued.refresh, api_key=key)
    assert refused.value.code == "session_revoked"
    assert SecurityEvent.objects.filter(kind="session_revoked", reason="test").count() == 1


def test_refresh_rotates_and_kills_the_old_token(api_key, make_session):
    key, _ = api_key
    issued = make_session(key)
    renewed = session_refresh(raw_refresh=issued.refresh, api_key=key)
    assert renewed.session.pk == issued.session.pk
    assert renewed.refresh != issued.refresh and renewed.access != issued.access
    assert session_authenticate(raw_token=renewed.access, api_key=key) == issued.session
    again = session_refresh(raw_refresh=renewed.refresh, api_key=key)
    assert again.session.pk == issued.session.pk


def test_reusing_a_dead_refresh_token_revokes_the_session(api_key, make_session):
    key, _ = api_key
    issued = make_session(key)
    renewed = session_refresh(raw_refresh=issued.refresh, api_key=key)
    with pytest.raises(ProtectionError) as refused:
        session_refresh(raw_refresh=issued.refresh, api_key=key)  # the copy
    assert refused.value.code == "session_revoked"
    session = AnonymousSession.objects.get(pk=issued.session.pk)
    assert session.revoked_reason == "refresh_reuse"
    assert SecurityEvent.objects.filter(kind="refresh_reuse", decision="deny").count() == 1
    # The legitimate holder's new tokens die with the session too.
    for attempt in (
        lambda: session_authenticate(raw_token=renewed.access, api_key=key),
        lambda: session_refresh(raw_refresh=renewed.refresh, api_key=key),
    ):
        with pytest.raises(ProtectionError) as refused:
            attempt()
        assert refused.value.code == "session_revoked"


def test_access_token_is_not_a_refresh_token(api_key, make_session):
    key, _ = api_key
    issued = make_session(key)
    with pytest.raises(ProtectionError) as refused:
        session_refresh(raw_refresh=issued.access, api_key=key)
    assert refused.value.code == "token_invalid"


def test_refresh_under_another_key_is_refused(make_api_key, make_session):
    key, _ = make_api_key()
    other, _ = make_api_key(name="other")
    issued = make_session(key)
    with pytest.raises(ProtectionError) as refused:
        session_refresh(raw_refresh=issued.refresh, api_key=other)
    assert refused.value.code == "token_invalid"
    assert AnonymousSession.objects.get(pk=issued.session.pk).revoked_at is None


def test_purge_removes_expired_sessions_only(api_key, make_session):
    key, _ = api_key
    old = make_session(key, now=timezone.now() - datetime.timedelta(hours=3))
    fresh = make_session(key)
    assert sessions_purge_expired() == 1
    assert list(AnonymousSession.objects.values_list("pk", flat=True)) == [fresh.session.pk]
    assert not AnonymousSession.objects.filter(pk=old.session.pk).exists()


def test_purge_command_reports_sessions_and_spent_challenges(api_key, make_session):
    from io import StringIO

    from django.core.management import call_command

    key, _ = api_key
    make_session(key, now=timezone.now() - datetime.timedelta(hours=3))
    out = StringIO()
    call_command("purge_expired", stdout=out)
    assert "sessions: 1 removed" in out.getvalue()
    assert "spent challenges: 0 removed" in out.getvalue()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_exactly_one_wins(api_key, make_session):
    key, _ = api_key
    issued = make_session(key)
    workers = 8
    barrier = threading.Barrier(workers)
    results: list[object] = []
    lock = threading.Lock()

    def refresh() -> None:
        try:
            barrier.wait()
            outcome: object = session_refresh(raw_refresh=issued.refresh, api_key=key)
        except ProtectionError as error:
            outcome = error.code
        finally:
            connection.close()  # this thread's own connection
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=refresh) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r for r in results if not isinstance(r, str)]
    assert len(winners) == 1
    assert sorted(r for r in results if isinstance(r, str)) == ["session_revoked"] * (workers - 1)
    # The losers are indistinguishable from a stolen copy: the session is revoked.
    assert AnonymousSession.objects.get(pk=issued.session.pk).revoked_reason == "refresh_reuse"
    assert SecurityEvent.objects.filter(kind="session_refreshed").count() == 1
