"""Webhook endpoints and the outbox in the admin, through the test client."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from protection.core.outbox import outbox_send_due
from protection.core.outbox.mail import outbox_mail_enqueue
from protection.webhooks import WebhookEndpoint, webhooks_emit
from tests.support.receivers import Answer

pytestmark = pytest.mark.django_db

ENDPOINTS = "/admin/protection/webhookendpoint/"
OUTBOX = "/admin/protection/outboxmessage/"


@pytest.fixture
def admin_client() -> Client:
    staff = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456!")
    client = Client()
    client.force_login(staff)
    return client


def test_adding_an_endpoint_shows_its_secret_once(admin_client, receiver):
    response = admin_client.post(
        f"{ENDPOINTS}add/",
        {"url": f"{receiver.url}/in", "event_types": ["block.created", "block.lifted"]},
    )
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert endpoint.secret in response.content.decode()
    assert endpoint.event_types == ["block.created", "block.lifted"]
    change = admin_client.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    listing = admin_client.get(ENDPOINTS).content.decode()
    assert endpoint.secret not in change and endpoint.secret not in listing


def test_a_private_target_is_refused_in_the_admin_without_the_setting(admin_client, gatehouse):
    response = admin_client.post(
        f"{ENDPOINTS}add/", {"url": "http://127.0.0.1:8000/in", "event_types": ["block.created"]}
    )
    assert "non-public address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_shows_its_deliveries_and_last_error(admin_client, endpoint, receiver):
    endpoint, _ = endpoint
    receiver.default = Answer(status=500)
    webhooks_emit("block.created", {"block_id": 1})
    outbox_send_due()
    page = admin_client.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    assert "block.created" in page and "HTTP 500" in page and "failing (1 failed" in page
    listing = admin_client.get(f"{OUTBOX}?q={endpoint.target}").content.decode()
    assert "HTTP 500" in listing and "pending" in listing


def test_disable_and_enable_actions(admin_client, endpoint):
    endpoint, _ = endpoint
    for action, enabled in (("disable_selected", False), ("enable_selected", True)):
        admin_client.post(ENDPOINTS, {"action": action, "_selected_action": [endpoint.pk]})
        endpoint.refresh_from_db()
        assert endpoint.enabled is enabled


def test_editing_an_endpoint_rechecks_its_url(admin_client, endpoint, gatehouse):
    endpoint, _ = endpoint
    gatehouse(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False)
    response = admin_client.post(
        f"{ENDPOINTS}{endpoint.pk}/change/",
        {"url": "http://10.0.0.1/in", "description": "", "event_types": ["block.created"]},
    )
    assert "non-public address" in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.url.startswith("http://127.0.0.1")


def test_the_outbox_list_filters_and_never_shows_a_pending_payload(admin_client):
    message = outbox_mail_enqueue(
        to="ada@example.com", template="signup/mail/signup_attempt_notice", context={}
    )
    listing = admin_client.get(f"{OUTBOX}?status__exact=pending&channel__exact=mail")
    assert "signup/mail/signup_attempt_notice" in listing.content.decode()
    detail = admin_client.get(f"{OUTBOX}{message.pk}/change/").content.decode()
    assert "ada@example.com" not in detail and "fields: context, language, template, to" in detail
    assert admin_client.get(f"{OUTBOX}add/").status_code == 403
