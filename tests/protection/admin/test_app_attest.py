"""App Attest keys in the admin: listed and searchable, read-only, and
selected devices can be blocked."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from protection.attestation.app_attest import AppAttestKey
from protection.blocks.models import BlockedClient

pytestmark = pytest.mark.django_db

URL = "/admin/protection/appattestkey/"


@pytest.fixture
def staff() -> Client:
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw-123456!")
    browser = Client()
    browser.force_login(user)
    return browser


@pytest.fixture
def keys(api_key):
    def make(key_id: str, app_id: str = "ABCDE12345.com.example.signup") -> AppAttestKey:
        return AppAttestKey.objects.create(
            key_id=key_id,
            public_key=b"\x30",
            app_id=app_id,
            environment="production",
            api_key=api_key[0],
        )

    return make("Zm9vYmFyK2tleS1vbmU="), make("b3RoZXIva2V5LXR3bw==")


def test_keys_are_listed_and_found_by_exact_key_id(staff: Client, keys) -> None:
    listing = staff.get(URL).content.decode()
    assert keys[0].key_id in listing and keys[1].key_id in listing
    found = staff.get(URL, {"q": keys[1].key_id}).content.decode()
    assert keys[1].key_id in found and keys[0].key_id not in found


def test_keys_cannot_be_added_changed_or_deleted(staff: Client, keys) -> None:
    assert staff.get(URL + "add/").status_code == 403
    page = staff.get(f"{URL}{keys[0].pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert staff.post(f"{URL}{keys[0].pk}/delete/", {"post": "yes"}).status_code == 403
    assert AppAttestKey.objects.count() == 2


def test_selected_devices_are_blocked(staff: Client, keys) -> None:
    response = staff.post(
        URL,
        {"action": "block_devices", "_selected_action": [keys[0].pk], "duration": "24h"},
    )
    assert response.status_code == 302
    block = BlockedClient.objects.get()
    assert (block.kind, block.value) == ("device", keys[0].key_id)
    assert block.expires_at is not None


def test_a_bad_duration_blocks_nothing(staff: Client, keys) -> None:
    staff.post(URL, {"action": "block_devices", "_selected_action": [keys[0].pk], "duration": "x"})
    assert not BlockedClient.objects.exists()
