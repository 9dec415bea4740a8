"""create_webhook: the signing secret printed once (last line, or --json's "secret")."""

import datetime
import json

import pytest
from django.core.management import CommandError, call_command
from standardwebhooks import Webhook

from protection.core.events import SecurityEvent
from protection.webhooks import WebhookEndpoint, webhook_signature_headers

pytestmark = pytest.mark.django_db


def test_text_output_ends_with_the_secret_alone(receiver, capsys):
    call_command("create_webhook", "--url", f"{receiver.url}/in", "--events", "block.created")
    lines = capsys.readouterr().out.strip().splitlines()
    secret = lines[-1]
    endpoint = WebhookEndpoint.objects.get()
    assert secret.startswith("whsec_") and secret == endpoint.secret
    assert any("block.created" in line for line in lines[:-1])
    assert all(secret not in line for line in lines[:-1])


def test_json_output_carries_the_secret_and_it_verifies(receiver, capsys):
    call_command(
        "create_webhook",
        "--url",
        f"{receiver.url}/in",
        "--events",
        "person.created,block.created",
        "--json",
    )
    created = json.loads(capsys.readouterr().out)
    assert created["events"] == ["person.created", "block.created"]
    assert created["enabled"] is True and created["url"] == f"{receiver.url}/in"
    headers = webhook_signature_headers(
        secret=WebhookEndpoint.objects.get(pk=created["id"]).secret,
        message_id="msg_1",
        timestamp=datetime.datetime.now(tz=datetime.UTC),
        body=b"{}",
    )
    assert Webhook(created["secret"]).verify(b"{}", headers) == {}
    event = SecurityEvent.objects.get(kind="webhook_endpoint_changed")
    assert event.reason == "created" and created["secret"] not in json.dumps(event.details)


@pytest.mark.parametrize(
    ("events", "message"),
    [("person.deleted", "Unknown webhook event type"), (" , ", "at least one event type")],
)
def test_unknown_or_missing_event_types_are_refused(receiver, events, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_webhook", "--url", f"{receiver.url}/in", "--events", events)
    assert not WebhookEndpoint.objects.exists()
