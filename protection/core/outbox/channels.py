"""The channel registry: how each kind of message is sent, registered by its owner.

A channel is a name (``mail``, ``sms``, ``webhook``…) and a ``send`` callable
taking the message's payload and a ``Delivery`` (its stable id, the attempt
number, the time). ``send`` returns on success, raises
``RetryableDeliveryError`` when a later attempt may succeed (a timeout, a
5xx, a 429) and ``PermanentDeliveryError`` when none will (a refused
recipient, a 4xx). Any other exception counts as retryable and is logged
with its traceback: it is a bug, and the message must not be lost to it.

An optional ``observe`` callable hears each outcome (``sent``, ``retry``,
``dead``) inside the sender's transaction: webhooks keep their endpoints'
failure state with it. Apps register from ``AppConfig.ready``; protection
never imports them.
"""

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Outcome = Literal["sent", "retry", "dead"]


class DeliveryError(Exception):
    """A failed attempt. ``str(error)`` is stored as the message's last error:
    say what failed, never to whom (no address, no number)."""


class RetryableDeliveryError(DeliveryError):
    """A later attempt may succeed; ``retry_after`` (seconds) is the receiver's wish."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """No later attempt will succeed: the message is dead at once."""


@dataclass(frozen=True)
class Delivery:
    """One attempt: the message's stable public id, its attempt number (from 1), the time."""

    message_id: str
    attempt: int
    now: datetime.datetime
    topic: str = ""
    target: str = ""


Send = Callable[[Mapping[str, Any], Delivery], None]
Observe = Callable[[Any, Outcome, str], None]  # (OutboxMessage, outcome, error text)


@dataclass(frozen=True)
class OutboxChannel:
    name: str
    send: Send
    observe: Observe | None = None


CHANNELS: dict[str, OutboxChannel] = {}


def outbox_channel_register(name: str, send: Send, *, observe: Observe | None = None) -> None:
    """Have the sender deliver messages of channel ``name`` with ``send``.

    Registering the same name again replaces it (tests swap a channel's sender).
    """
    if not name or len(name) > 32:
        raise ValueError("A channel name is 1 to 32 characters")
    CHANNELS[name] = OutboxChannel(name, send, observe)


def outbox_channel(name: str) -> OutboxChannel | None:
    return CHANNELS.get(name)
