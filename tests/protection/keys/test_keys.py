"""Key lifecycle services: create, status, update, revoke, rotate, find."""

import datetime

import pytest
from django.core.exceptions import MultipleObjectsReturned, ObjectDoesNotExist, ValidationError
from django.utils import timezone

from protection.base import crypto
from protection.base.exceptions import ProtectionError
from protection.core.events import SecurityEvent
from protection.keys import (
    ApiKey,
    ApiKeyStatus,
    api_key_create,
    api_key_find,
    api_key_revoke,
    api_key_rotate,
    api_key_status,
    api_key_update,
    api_key_verify,
)

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)


def lifecycle(api_key):
    return list(
        SecurityEvent.objects.filter(kind="api_key_lifecycle", api_key=api_key)
        .order_by("id")
        .values_list("reason", flat=True)
    )


# --- create -------------------------------------------------------------------


def test_create_stores_only_the_hash_and_returns_the_raw_key_once(django_user_model):
    user = django_user_model.objects.create_user("ops")
    api_key, raw = api_key_create(
        name="iOS app", kind="secret", scopes=["lookup"], created_by=user, now=NOW
    )
    parsed = crypto.parse_raw_key(raw)
    assert parsed.public_id == api_key.public_id and parsed.kind == "secret"
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert stored.secret_hash == crypto.hash_secret(parsed.secret)
    assert all(parsed.secret not in str(value) for value in stored.__dict__.values())
    assert stored.created_at == NOW and stored.created_by == user
    event = SecurityEvent.objects.get(kind="api_key_lifecycle", api_key=api_key)
    assert (event.decision, event.reason, event.details["by"]) == ("allow", "created", "ops")
    assert raw not in str(event.details) and parsed.secret not in str(event.details)


def test_create_defaults():
    api_key, _ = api_key_create(name="web")
    assert api_key.kind == "publishable"
    assert api_key.scopes == ["session", "lookup", "create"]
    assert api_key.required_verifications == ["pow"]
    assert api_key.allowed_origins == [] and api_key.expires_at is None


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "admin"},
        {"scopes": ["session", "delete"]},
        {"scopes": "session,everything"},
        {"required_verifications": ["captcha"]},
        {"required_verifications": ["none", "pow"]},
        {"allowed_origins": ["allowed.com"]},
        {"allowed_origins": ["https://allowed.com/path"]},
        {"allowed_origins": ["https://*.allowed.com"]},
        {"allowed_origins": ["null"]},
        {"allowed_origins": ["ftp://allowed.com"]},
        {"allowed_origins": ["https://user@allowed.com"]},
        {"name": "   "},
    ],
)
def test_create_refuses_invalid_settings(fields):
    fields.setdefault("name", "app")
    with pytest.raises(ValidationError):
        api_key_create(**fields)
    assert not ApiKey.objects.exists()


def test_create_normalises_settings():
    api_key, _ = api_key_create(
        name="web",
        scopes="Lookup, session,lookup",
        allowed_origins=["HTTPS://App.Example:443", "http://localhost:8000", "https://app.example"],
        required_verifications="none",
    )
    assert api_key.scopes == ["lookup", "session"]
    assert api_key.allowed_origins == ["https://app.example", "http://localhost:8000"]
    assert api_key.required_verifications == []


# --- status -------------------------------------------------------------------


def test_statuses(make_api_key):
    active, _ = make_api_key(now=NOW)
    assert api_key_status(active, NOW) == ApiKeyStatus.ACTIVE
    expiring, _ = make_api_key(expires_at=NOW + HOUR)
    assert api_key_status(expiring, NOW) == ApiKeyStatus.ACTIVE
    assert api_key_status(expiring, NOW + HOUR) == ApiKeyStatus.EXPIRED
    api_key_rotate(api_key=active, grace=HOUR, now=NOW)
    active.refresh_from_db()
    assert api_key_status(active, NOW) == ApiKeyStatus.GRACE
    assert api_key_status(active, NOW + HOUR) == ApiKeyStatus.EXPIRED
    revoked = api_key_revoke(api_key=expiring, reason="leaked", now=NOW)
    assert api_key_status(revoked, NOW) == ApiKeyStatus.REVOKED
    # The queryset filter used by the admin agrees with the helper.
    for status in ApiKeyStatus:
        ids = set(ApiKey.objects.with_status(status, now=NOW).values_list("pk", flat=True))
        expected = {k.pk for k in ApiKey.objects.all() if api_key_status(k, NOW) == status}
        assert ids == expected


# --- revoke -------------------------------------------------------------------


def test_revoke_is_recorded_and_takes_effect_at_once(api_key, django_user_model):
    key, raw = api_key
    assert api_key_verify(raw_key=raw).pk == key.pk  # now cached in this process
    admin = django_user_model.objects.create_user("admin")
    revoked = api_key_revoke(api_key=key, reason="leaked in app bundle", revoked_by=admin, now=NOW)
    assert (revoked.revoked_at, revoked.revoked_reason, revoked.revoked_by) == (
        NOW,
        "leaked in app bundle",
        admin,
    )
    with pytest.raises(ProtectionError) as excinfo:
        api_key_verify(raw_key=raw)
    assert excinfo.value.code == "api_key_revoked"
    event = SecurityEvent.objects.get(kind="api_key_lifecycle", reason="revoked")
    assert event.details == {"by": "admin", "reason": "leaked in app bundle"}


def test_revocation_cannot_be_undone(api_key):
    key, _ = api_key
    api_key_revoke(api_key=key, reason="leaked", now=NOW)
    with pytest.raises(ProtectionError) as excinfo:
        api_key_revoke(api_key=key, reason="again", now=NOW + HOUR)
    assert excinfo.value.code == "api_key_already_revoked"
    stored = ApiKey.objects.get(pk=key.pk)
    assert (stored.revoked_at, stored.revoked_reason) == (NOW, "leaked")
    stored.revoked_at = None
    with pytest.raises(ValueError, match="read-only"):
        stored.save()
    assert ApiKey.objects.get(pk=key.pk).revoked_at == NOW
    with pytest.raises(ProtectionError):
        api_key_update(api_key=stored, changes={"name": "resurrected"})


def test_a_stale_instance_cannot_write_over_a_revocation(api_key):
    key, _ = api_key
    stale = ApiKey.objects.get(pk=key.pk)
    api_key_revoke(api_key=key, reason="leaked", now=NOW)
    stale.name = "renamed"
    with pytest.raises(ValueError, match="read-only"):
        stale.save()
    assert ApiKey.objects.get(pk=key.pk).revoked_at == NOW


def test_revoke_needs_a_reason(api_key):
    with pytest.raises(ValueError):
        api_key_revoke(api_key=api_key[0], reason="  ")
    assert ApiKey.objects.get(pk=api_key[0].pk).revoked_at is None


# --- rotate -------------------------------------------------------------------


def test_rotate_copies_settings_and_keeps_old_key_for_the_grace_period(make_api_key):
    old, old_raw = make_api_key(
        name="partner",
        kind="secret",
        scopes=["lookup"],
        allowed_origins=["https://a.example"],
        required_verifications=["pow", "recaptcha"],
        rate_limit_overrides={"lookup": {"key": ["10/m"]}},
        recaptcha_version="v2",
        recaptcha_action="signup",
        recaptcha_min_score=0.7,
        now=NOW - HOUR,
    )
    new, new_raw = api_key_rotate(api_key=old, grace=2 * HOUR, now=NOW)
    assert new_raw != old_raw and new.public_id != old.public_id
    for field in (
        "name", "kind", "scopes", "allowed_origins", "required_verifications",
        "rate_limit_overrides", "recaptcha_version", "recaptcha_action", "recaptcha_min_score",
    ):  # fmt: skip
        assert getattr(new, field) == getattr(old, field), field
    assert new.replaces == old and new.expires_at is None
    old.refresh_from_db()
    assert old.expires_at == NOW + 2 * HOUR and old.rotated_at == NOW
    # Both work during the grace period; only the new one after it.
    during = NOW + HOUR
    assert api_key_verify(raw_key=old_raw, now=during).pk == old.pk
    assert api_key_verify(raw_key=new_raw, now=during).pk == new.pk
    after = NOW + 2 * HOUR
    with pytest.raises(ProtectionError) as excinfo:
        api_key_verify(raw_key=old_raw, now=after)
    assert excinfo.value.code == "api_key_expired"
    assert api_key_verify(raw_key=new_raw, now=after).pk == new.pk
    assert lifecycle(old) == ["created", "rotated"]
    assert lifecycle(new) == ["created"]
    rotated = SecurityEvent.objects.get(reason="rotated")
    assert (
        rotated.details["successor"] == new.public_id and rotated.details["grace_seconds"] == 7200
    )
    assert new_raw not in str(rotated.details)


def test_default_grace_is_24_hours_and_grace_zero_ends_the_old_key_now(make_api_key):
    first, _ = make_api_key()
    api_key_rotate(api_key=first, now=NOW)
    first.refresh_from_db()
    assert first.expires_at == NOW + datetime.timedelta(hours=24)
    second, raw = make_api_key()
    api_key_rotate(api_key=second, grace=datetime.timedelta(0), now=NOW)
    with pytest.raises(ProtectionError):
        api_key_verify(raw_key=raw, now=NOW)


def test_rotation_never_extends_an_expiry(make_api_key):
    key, _ = make_api_key(expires_at=NOW + HOUR)
    api_key_rotate(api_key=key, grace=datetime.timedelta(days=7), now=NOW)
    key.refresh_from_db()
    assert key.expires_at == NOW + HOUR


def test_second_rotation_is_refused_while_a_successor_is_live(api_key):
    key, _ = api_key
    successor, _ = api_key_rotate(api_key=key, now=NOW)
    with pytest.raises(ProtectionError) as excinfo:
        api_key_rotate(api_key=key, now=NOW)
    assert excinfo.value.code == "api_key_already_rotated"
    assert key.successors.count() == 1
    # If the successor is revoked, the old key (still in grace) may be rotated again.
    api_key_revoke(api_key=successor, reason="bad deploy", now=NOW)
    again, _ = api_key_rotate(api_key=key, now=NOW + HOUR)
    assert again.replaces_id == key.pk
    key.refresh_from_db()
    assert key.expires_at == NOW + datetime.timedelta(hours=24)  # not pushed back


def test_rotating_a_revoked_or_expired_key_is_refused(make_api_key):
    revoked, _ = make_api_key()
    api_key_revoke(api_key=revoked, reason="leaked")
    with pytest.raises(ProtectionError) as excinfo:
        api_key_rotate(api_key=revoked)
    assert excinfo.value.code == "api_key_revoked"
    expired, _ = make_api_key(expires_at=NOW)
    with pytest.raises(ProtectionError) as excinfo:
        api_key_rotate(api_key=expired, now=NOW)
    assert excinfo.value.code == "api_key_expired"
    assert ApiKey.objects.count() == 2


def test_negative_grace_is_refused(api_key):
    with pytest.raises(ValueError):
        api_key_rotate(api_key=api_key[0], grace=-HOUR)


# --- update -------------------------------------------------------------------


def test_update_validates_and_records_the_changed_fields(api_key, django_user_model):
    key, raw = api_key
    api_key_verify(raw_key=raw)  # cached
    updated = api_key_update(
        api_key=key,
        changes={"scopes": "lookup", "allowed_origins": ["https://a.example"]},
        updated_by=django_user_model.objects.create_user("ops"),
    )
    assert updated.scopes == ["lookup"] and updated.allowed_origins == ["https://a.example"]
    assert api_key_verify(raw_key=raw).scopes == ["lookup"]  # the cache was dropped
    event = SecurityEvent.objects.get(reason="changed")
    assert event.details == {"by": "ops", "fields": ["allowed_origins", "scopes"]}
    with pytest.raises(ValidationError):
        api_key_update(api_key=key, changes={"scopes": ["root"]})
    with pytest.raises(ValueError):
        api_key_update(api_key=key, changes={"kind": "secret"})


# --- find ---------------------------------------------------------------------


def test_find_by_public_id_or_unique_active_name(make_api_key):
    web, _ = make_api_key(name="web")
    assert api_key_find(ref=web.public_id) == web
    assert api_key_find(ref="web") == web
    successor, _ = api_key_rotate(api_key=web)
    assert api_key_find(ref="web") == successor  # the old one is in grace
    assert api_key_find(ref=web.public_id) == web
    make_api_key(name="web")
    with pytest.raises(MultipleObjectsReturned, match="use the public id"):
        api_key_find(ref="web")
    with pytest.raises(ObjectDoesNotExist):
        api_key_find(ref="nope")


def test_expiry_is_checked_against_now_even_for_cached_keys(make_api_key):
    key, raw = make_api_key(expires_at=timezone.now() + HOUR)
    api_key_verify(raw_key=raw)
    with pytest.raises(ProtectionError) as excinfo:
        api_key_verify(raw_key=raw, now=timezone.now() + 2 * HOUR)
    assert excinfo.value.code == "api_key_expired"
    event = SecurityEvent.objects.get(kind="api_key_auth", reason="api_key_expired")
    assert event.api_key_id == key.pk and event.decision == "deny"
