"""The API key admin through Django's test client."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from protection.base import crypto
from protection.core.events import SecurityEvent
from protection.keys import ApiKey, api_key_revoke, api_key_verify

pytestmark = pytest.mark.django_db

LIST = "/admin/protection/apikey/"
ADD = LIST + "add/"
RAW_KEY = re.compile(r"gh_(?:pub|sec)_[0-9A-Za-z]{12}_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}")


def change_url(key: ApiKey) -> str:
    return f"{LIST}{key.pk}/change/"


@pytest.fixture
def admin_client(django_user_model) -> Client:
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def staff_client(django_user_model, *perms: str) -> Client:
    user = django_user_model.objects.create_user("staff", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="protection", codename__in=perms)
    )
    client = Client()
    client.force_login(user)
    return client


ADD_FORM = {
    "name": "Android app",
    "kind": "publishable",
    "scopes": ["session", "lookup"],
    "allowed_origins": "https://app.example,\nhttp://localhost:8000",
    "required_verifications": ["pow"],
    "recaptcha_version": "v3",
    "recaptcha_action": "session",
    "recaptcha_min_score": "0.5",
    "rate_limit_overrides": "{}",
    "expires_at_0": "",
    "expires_at_1": "",
}


def test_create_shows_the_raw_key_exactly_once(admin_client):
    posted = admin_client.post(ADD, ADD_FORM)
    # A redirect: reloading the page that shows the key never posts the form again.
    assert posted.status_code == 303
    assert RAW_KEY.findall(posted.content.decode()) == []
    response = admin_client.get(posted["Location"])
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    shown = RAW_KEY.findall(response.content.decode())
    assert len(shown) == 1
    raw = shown[0]
    key = ApiKey.objects.get()
    assert (key.name, key.scopes, key.allowed_origins) == (
        "Android app",
        ["session", "lookup"],
        ["https://app.example", "http://localhost:8000"],
    )
    assert key.created_by.username == "root"
    assert api_key_verify(raw_key=raw).pk == key.pk
    # Never again: not in the list, the change page, messages or the session.
    for url in (LIST, change_url(key), LIST + f"?q={key.public_id}"):
        page = admin_client.get(url).content.decode()
        assert key.public_id in page
        assert raw not in page and crypto.parse_raw_key(raw).secret not in page
    assert raw not in str(dict(admin_client.session))
    assert SecurityEvent.objects.filter(reason="created", api_key=key).count() == 1
    # Reloading (or going back to) the shown-once page: gone, and no new key.
    reloaded = admin_client.get(posted["Location"])
    assert reloaded.status_code == 410
    assert RAW_KEY.findall(reloaded.content.decode()) == []
    assert "cannot be shown again" in reloaded.content.decode()
    assert ApiKey.objects.count() == 1


def test_the_shown_once_view_is_the_creators_only_and_keeps_no_clear_key(
    admin_client, django_user_model
):
    from django.core.cache import cache

    posted = admin_client.post(ADD, ADD_FORM)
    token = posted["Location"].rstrip("/").rsplit("/", 1)[-1]
    stored = cache.get(f"gatehouse:admin:shown-once:{token}")
    key = ApiKey.objects.get()
    assert stored and key.public_id not in str(stored)  # only the ciphertext waits
    other = django_user_model.objects.create_superuser("other", "o@example.com", "pw")
    intruder = Client()
    intruder.force_login(other)
    # Even with the creator's half of the secret (the browser's cookie).
    intruder.cookies["gatehouse_shown_once"] = admin_client.cookies["gatehouse_shown_once"].value
    assert intruder.get(posted["Location"]).status_code == 410
    assert admin_client.get(posted["Location"]).status_code == 410  # that view used it up


def test_create_refuses_invalid_origins_and_scopes(admin_client):
    bad_origin = admin_client.post(ADD, {**ADD_FORM, "allowed_origins": "https://a.example/path"})
    assert bad_origin.status_code == 200
    assert "Invalid origin" in bad_origin.content.decode()
    bad_scope = admin_client.post(ADD, {**ADD_FORM, "scopes": ["lookup", "admin"]})
    assert "Select a valid choice" in bad_scope.content.decode()
    assert not ApiKey.objects.exists()
    assert not RAW_KEY.search(bad_origin.content.decode() + bad_scope.content.decode())


def test_list_columns_filters_and_search(admin_client, make_api_key):
    active, _ = make_api_key(name="web app", scopes=["lookup", "create"])
    revoked, _ = make_api_key(name="old partner", kind="secret")
    api_key_revoke(api_key=revoked, reason="contract ended")
    page = admin_client.get(LIST).content.decode()
    for text in ("web app", active.public_id, "lookup, create", "active", "revoked", "secret"):
        assert text in page
    filtered = admin_client.get(LIST + "?status=revoked").content.decode()
    assert revoked.public_id in filtered and active.public_id not in filtered
    by_kind = admin_client.get(LIST + "?kind__exact=publishable").content.decode()
    assert active.public_id in by_kind and revoked.public_id not in by_kind
    searched = admin_client.get(LIST + "?q=partner").content.decode()
    assert revoked.public_id in searched and active.public_id not in searched
    by_id = admin_client.get(LIST + f"?q={active.public_id}").content.decode()
    assert active.public_id in by_id and revoked.public_id not in by_id


def test_edit_goes_through_the_service_and_validates(admin_client, api_key):
    key, raw = api_key
    form = {**ADD_FORM, "name": "renamed", "scopes": ["lookup"]}
    del form["kind"]
    response = admin_client.post(change_url(key), form)
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.name == "renamed" and key.scopes == ["lookup"] and key.kind == "publishable"
    assert SecurityEvent.objects.filter(reason="changed", api_key=key).exists()
    bad = admin_client.post(change_url(key), {**form, "allowed_origins": "null"})
    assert bad.status_code == 200 and "Invalid origin" in bad.content.decode()


def test_revoke_action_asks_for_a_reason_then_revokes(admin_client, make_api_key):
    first, first_raw = make_api_key()
    second, _ = make_api_key()
    selection = {"action": "revoke_selected", "_selected_action": [first.pk, second.pk]}
    confirm = admin_client.post(LIST, selection)
    assert confirm.status_code == 200 and "cannot be undone" in confirm.content.decode()
    assert not ApiKey.objects.filter(revoked_at__isnull=False).exists()
    done = admin_client.post(LIST, {**selection, "apply": "1", "reason": "leaked in a repo"})
    assert done.status_code == 302
    assert set(ApiKey.objects.filter(revoked_reason="leaked in a repo")) == {first, second}
    assert ApiKey.objects.get(pk=first.pk).revoked_by.username == "root"
    with pytest.raises(Exception, match="revoked"):
        api_key_verify(raw_key=first_raw)


def test_revoked_keys_are_read_only(admin_client, api_key):
    key, _ = api_key
    api_key_revoke(api_key=key, reason="leaked")
    page = admin_client.get(change_url(key))
    assert page.status_code == 200
    assert 'name="name"' not in page.content.decode()  # no editable inputs
    form = {**ADD_FORM, "name": "revived"}
    assert admin_client.post(change_url(key), form).status_code == 403
    assert ApiKey.objects.get(pk=key.pk).name == "test app"
    # Revoking again through the action changes nothing.
    admin_client.post(
        LIST,
        {"action": "revoke_selected", "_selected_action": [key.pk], "apply": "1", "reason": "x"},
    )
    assert ApiKey.objects.get(pk=key.pk).revoked_reason == "leaked"


def test_no_deletion(admin_client, api_key):
    key, _ = api_key
    assert admin_client.post(f"{LIST}{key.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ApiKey.objects.filter(pk=key.pk).exists()


def test_rotate_action_shows_each_new_key_once(admin_client, make_api_key):
    first, _ = make_api_key(name="ios")
    second, _ = make_api_key(name="android")
    selection = {"action": "rotate_selected", "_selected_action": [first.pk, second.pk]}
    confirm = admin_client.post(LIST, selection)
    assert confirm.status_code == 200 and 'name="grace_hours"' in confirm.content.decode()
    assert ApiKey.objects.count() == 2
    posted = admin_client.post(LIST, {**selection, "apply": "1", "grace_hours": "2"})
    assert posted.status_code == 303
    done = admin_client.get(posted["Location"])
    assert done.status_code == 200 and "no-store" in done["Cache-Control"]
    raws = RAW_KEY.findall(done.content.decode())
    assert len(raws) == 2
    successors = {api_key_verify(raw_key=raw).replaces_id for raw in raws}
    assert successors == {first.pk, second.pk}
    first.refresh_from_db()
    assert (first.expires_at - first.rotated_at).total_seconds() == 7200
    assert RAW_KEY.findall(admin_client.get(posted["Location"]).content.decode()) == []
    again = admin_client.post(LIST, {**selection, "apply": "1", "grace_hours": "2"}, follow=True)
    assert RAW_KEY.findall(again.content.decode()) == []
    assert ApiKey.objects.count() == 4  # no second successors


def test_staff_without_permissions_cannot_see_or_change_keys(django_user_model, api_key):
    key, _ = api_key
    client = staff_client(django_user_model)
    assert client.get(LIST).status_code == 403
    assert client.get(change_url(key)).status_code == 403
    assert client.get(ADD).status_code == 403
    assert client.post(ADD, ADD_FORM).status_code == 403
    assert client.post(
        LIST, {"action": "revoke_selected", "_selected_action": [key.pk], "apply": "1",
               "reason": "x"}
    ).status_code == 403  # fmt: skip
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None
    assert ApiKey.objects.count() == 1


def test_view_only_staff_can_list_but_not_change(django_user_model, api_key):
    key, _ = api_key
    client = staff_client(django_user_model, "view_apikey")
    assert client.get(LIST).status_code == 200
    assert client.post(change_url(key), {**ADD_FORM, "name": "x"}).status_code == 403
    response = client.post(
        LIST, {"action": "rotate_selected", "_selected_action": [key.pk], "apply": "1",
               "grace_hours": "1"}
    )  # fmt: skip
    assert not RAW_KEY.search(response.content.decode())
    assert ApiKey.objects.count() == 1 and ApiKey.objects.get().name == "test app"


def test_the_recaptcha_policy_is_editable_and_validated(admin_client):
    admin_client.post(ADD, ADD_FORM)
    key = ApiKey.objects.get()
    form = {**ADD_FORM, "recaptcha_version": "v2", "recaptcha_min_score": "0.8"}
    assert admin_client.post(change_url(key), form).status_code == 302
    key.refresh_from_db()
    assert (key.recaptcha_version, key.recaptcha_min_score) == ("v2", 0.8)
    refused = admin_client.post(change_url(key), {**form, "recaptcha_min_score": "1.5"})
    assert refused.status_code == 200
    key.refresh_from_db()
    assert key.recaptcha_min_score == 0.8


@pytest.mark.parametrize(
    ("button", "next_path"),
    [
        ("_save", lambda key: LIST),
        ("_addanother", lambda key: ADD),
        ("_continue", lambda key: change_url(key)),
    ],
)
def test_after_the_show_once_page_the_save_button_is_honoured(admin_client, button, next_path):
    response = admin_client.post(ADD, {**ADD_FORM, button: "1"}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert len(RAW_KEY.findall(page)) == 1
    key = ApiKey.objects.get()
    link = re.search(r'<a class="button" id="next-step" href="([^"]+)">([^<]+)</a>', page)
    assert link.group(1) == next_path(key)
    assert admin_client.get(link.group(1)).status_code == 200


def test_the_shown_key_has_a_copy_button_and_no_inline_script(admin_client):
    page = admin_client.post(ADD, ADD_FORM, follow=True).content.decode()
    assert 'class="button gatehouse-copy" data-copy-target="raw-key-1"' in page
    assert 'id="raw-key-1"' in page
    assert "onclick" not in page
    assert "protection/admin/apikey.js" in page


def test_the_key_form_loads_the_recaptcha_toggle(admin_client):
    assert "protection/admin/apikey.js" in admin_client.get(ADD).content.decode()
