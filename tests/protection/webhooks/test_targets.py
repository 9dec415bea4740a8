"""SSRF: an endpoint whose host is or resolves to a non-public address is refused,
when it is created and again when a delivery is sent, unless the setting allows it."""

import socket

import pytest
from django.core.management import CommandError, call_command

from protection.core.events import SecurityEvent
from protection.core.outbox import OutboxMessage, outbox_send_due
from protection.webhooks import (
    WebhookTargetError,
    address_is_public,
    webhook_endpoint_create,
    webhooks_emit,
)
from protection.webhooks.targets import webhook_target_resolve

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # shared address space (CGNAT)
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("239.1.1.1", False),
        ("192.0.2.10", False),
        ("198.18.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("ff02::1", False),
        ("2001:db8::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2002:0a00:0001::1", False),  # 6to4 of 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
    ],
)
def test_only_globally_routable_unicast_addresses_are_public(address, public):
    assert address_is_public(address) is public


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "https://localhost/hook",
        "https://10.0.0.5/hook",
        "https://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_a_private_target_is_refused_at_creation(url):
    with pytest.raises(WebhookTargetError, match="non-public address"):
        webhook_endpoint_create(url=url, event_types="block.created")


def test_create_webhook_refuses_a_private_target(capsys):
    with pytest.raises(CommandError, match="non-public"):
        call_command("create_webhook", "--url", "http://127.0.0.1/x", "--events", "block.created")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hook", "starts with https://"),
        ("https://user:pw@example.com/hook", "no credentials"),
        ("https:///hook", "names a host"),
        ("https://example.com:99999/hook", "port"),
    ],
)
def test_malformed_urls_are_refused(url, message):
    with pytest.raises(WebhookTargetError, match=message):
        webhook_target_resolve(url)


def test_a_name_is_judged_by_every_address_it_resolves_to():
    def resolver(addresses):
        return lambda host, port, **kw: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    assert webhook_target_resolve("https://hooks.example/x", resolve=resolver(["8.8.8.8"])) == (
        "8.8.8.8"
    )
    with pytest.raises(WebhookTargetError, match=r"non-public address \(10\.0\.0\.7\)"):
        webhook_target_resolve("https://hooks.example/x", resolve=resolver(["8.8.8.8", "10.0.0.7"]))

    def unresolvable(host, port, **kw):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(WebhookTargetError, match="does not resolve") as failed:
        webhook_target_resolve("https://nowhere.invalid/x", resolve=unresolvable)
    assert failed.value.retryable


def test_the_setting_allows_private_targets(gatehouse):
    gatehouse(WEBHOOKS_ALLOW_PRIVATE_TARGETS=True)
    endpoint, _ = webhook_endpoint_create(url="http://127.0.0.1:9/x", event_types="block.created")
    assert endpoint.enabled


def test_a_target_that_became_private_is_refused_at_send_and_the_endpoint_disabled(
    gatehouse, receiver
):
    # Created while allowed; the setting is then turned off (as a name could
    # start resolving inside): the delivery is refused, never sent.
    endpoint, _ = webhook_endpoint_create(url=f"{receiver.url}/x", event_types="block.created")
    webhooks_emit("block.created", {"block_id": 1})
    gatehouse(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False)
    assert outbox_send_due().dead == 1
    assert receiver.received == []
    message = OutboxMessage.objects.get()
    assert "non-public address (127.0.0.1)" in message.last_error
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    alert = SecurityEvent.objects.get(kind="webhook_endpoint_disabled")
    assert alert.reason == "target_refused" and alert.details["endpoint_id"] == endpoint.pk
