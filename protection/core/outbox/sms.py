"""The ``sms`` channel and its pluggable senders.

``SMS_BACKEND`` picks the sender: ``console`` (printed to stdout, the
default under DEBUG), ``file`` (one JSON object ``{"to", "body"}`` per line
appended to ``SMS_FILE_PATH``), ``twilio`` (``protection.core.outbox.twilio``),
or the dotted path of a class. A sender is built with no arguments (it
reads its own settings) and has one method, ``send(to, body)``, which
returns once the provider accepted the message and raises
``RetryableDeliveryError`` or ``PermanentDeliveryError`` otherwise.

An SMS payload is the number and either the text or a template with its
context (``{"to", "template", "context", "language"}``), rendered when sent.
"""

import datetime
import json
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.module_loading import import_string

from protection.conf import gatehouse_settings
from protection.core.outbox.channels import (
    Delivery,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from protection.core.outbox.models import OutboxMessage
from protection.core.outbox.services import outbox_enqueue


class SmsSender(Protocol):
    def send(self, to: str, body: str) -> None: ...


class ConsoleSmsSender:
    """Prints each message (development: like Django's console mail backend)."""

    def send(self, to: str, body: str) -> None:
        sys.stdout.write(f"SMS to {to}:\n{body}\n{'-' * 40}\n")
        sys.stdout.flush()


_file_lock = threading.Lock()


class FileSmsSender:
    """Appends ``{"to": …, "body": …}`` as one JSON line to ``SMS_FILE_PATH``."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or gatehouse_settings.SMS_FILE_PATH

    def send(self, to: str, body: str) -> None:
        if not self.path:
            raise RetryableDeliveryError("SMS_FILE_PATH is not set")
        line = json.dumps({"to": to, "body": body}, ensure_ascii=False) + "\n"
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            with _file_lock, open(self.path, "a", encoding="utf-8") as file:
                file.write(line)  # one write of one line: O_APPEND keeps lines whole
        except OSError as exc:
            raise RetryableDeliveryError(f"cannot write the SMS file ({exc.strerror})") from None


BACKENDS = {
    "console": "protection.core.outbox.sms.ConsoleSmsSender",
    "file": "protection.core.outbox.sms.FileSmsSender",
    "twilio": "protection.core.outbox.twilio.TwilioSmsSender",
}


def sms_backend_path(name: str | None = None) -> str:
    """The dotted path of the sender class ``SMS_BACKEND`` (or ``name``) names; "" if none."""
    name = (name if name is not None else gatehouse_settings.SMS_BACKEND) or ""
    return BACKENDS.get(name.strip().lower(), name.strip())


def sms_sender() -> SmsSender:
    """A sender as configured now (built per message: settings changes apply at once)."""
    path = sms_backend_path()
    if not path:
        raise RetryableDeliveryError("no SMS backend is configured (SMS_BACKEND)")
    try:
        sender_class = import_string(path)
    except ImportError:
        raise RetryableDeliveryError(f"SMS backend {path!r} cannot be imported") from None
    return sender_class()


def sms_render(payload: Mapping[str, Any]) -> str:
    """The text of an SMS payload: its ``body``, or its template rendered."""
    if isinstance(payload.get("body"), str):
        return payload["body"]
    template = payload.get("template")
    if not isinstance(template, str):
        raise PermanentDeliveryError("SMS payload without 'body' or 'template'")
    with translation.override(payload.get("language") or settings.LANGUAGE_CODE):
        try:
            text = render_to_string(template, dict(payload.get("context") or {}))
        except TemplateDoesNotExist:
            raise PermanentDeliveryError(f"template {template} does not exist") from None
    return text.strip()


def sms_send(payload: Mapping[str, Any], delivery: Delivery) -> None:
    """The channel's sender: one SMS through the configured backend."""
    to = payload.get("to")
    if not isinstance(to, str) or not to:
        raise PermanentDeliveryError("SMS payload without 'to'")
    sms_sender().send(to, sms_render(payload))


def outbox_sms_enqueue(
    *,
    to: str,
    body: str | None = None,
    template: str | None = None,
    context: Mapping[str, Any] | None = None,
    language: str | None = None,
    not_after: datetime.datetime | None = None,
    now: datetime.datetime | None = None,
    target: str = "",
    skip: str = "",
) -> OutboxMessage:
    """Queue an SMS to ``to`` (E.164) in the caller's transaction; return the message.

    Give the text as ``body``, or a ``template`` and its ``context``
    (rendered when sent, in ``language``). ``target``: what the outbox keeps
    of the recipient once the payload is scrubbed; not personal data (a
    number's prefix, ``prefix:+1201555``, is what sign-up gives). ``skip``:
    record it as skipped instead (``outbox_enqueue``).
    """
    if (body is None) == (template is None):
        raise ValueError("Give an SMS either a body or a template")
    payload: dict[str, Any] = {"to": to}
    if body is not None:
        payload["body"] = body
    else:
        payload.update(template=template, context=dict(context or {}), language=language)
    return outbox_enqueue(
        channel="sms",
        payload=payload,
        topic=template or "text",
        target=target,
        not_after=not_after,
        now=now,
        skip=skip,
    )
