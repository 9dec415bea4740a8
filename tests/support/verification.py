"""Helpers for verification tests: what the outbox holds, read as a recipient would.

Before the sender runs, an outbox row still has its payload (the recipient
and the template context): the code a person would read in their mail or
SMS. Tests that go through the sender read the file backends instead.
"""

import json
from pathlib import Path
from typing import Any

from protection.core.outbox import OutboxMessage
from signup.notifications import CODE_MAIL, CODE_SMS, NOTICE_MAIL, NOTICE_SMS

CODE_TOPICS = (CODE_MAIL, CODE_SMS)
NOTICE_TOPICS = (NOTICE_MAIL, NOTICE_SMS)


def queued(*topics: str) -> list[OutboxMessage]:
    """Messages waiting to be sent, oldest first (all topics when none given)."""
    messages = OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING)
    if topics:
        messages = messages.filter(topic__in=topics)
    return list(messages.order_by("created_at", "pk"))


def codes_for(address: str) -> list[str]:
    """Every code queued for ``address`` (an email or an E.164 number), oldest first."""
    return [
        message.payload["context"]["code"]
        for message in queued(*CODE_TOPICS)
        if message.payload.get("to") == address
    ]


def last_code(address: str) -> str:
    found = codes_for(address)
    assert found, f"no code was queued for {address}"
    return found[-1]


def notices_for(address: str) -> list[OutboxMessage]:
    return [message for message in queued(*NOTICE_TOPICS) if message.payload.get("to") == address]


def link_token(address: str) -> str:
    """The token of the last code mail's link (``…/confirm#t=<token>``)."""
    [*_, message] = [m for m in queued(CODE_MAIL) if m.payload.get("to") == address]
    link = message.payload["context"]["link"]
    assert link and "#t=" in link, link
    return link.split("#t=", 1)[1]


def sms_file_lines(path: Path) -> list[dict[str, Any]]:
    """What the file SMS backend wrote: one ``{"to", "body"}`` per line."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
