"""Webhook fixtures: a loopback receiver (private targets allowed for it) and endpoints."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from protection.webhooks import WebhookEndpoint, webhook_endpoint_create
from tests.support.receivers import Receiver, receiving


@pytest.fixture
def gatehouse(settings: Any) -> Callable[..., None]:
    def override(**values: Any) -> None:
        settings.GATEHOUSE = {**settings.GATEHOUSE, **values}

    return override


@pytest.fixture
def receiver(gatehouse: Callable[..., None]) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1, which only WEBHOOKS_ALLOW_PRIVATE_TARGETS lets us call."""
    gatehouse(WEBHOOKS_ALLOW_PRIVATE_TARGETS=True)
    with receiving() as started:
        yield started


@pytest.fixture
def endpoint(receiver: Receiver, db: Any) -> tuple[WebhookEndpoint, str]:
    return webhook_endpoint_create(
        url=f"{receiver.url}/hooks",
        event_types="person.created,block.created,block.lifted,key.abuse_suspected",
    )
