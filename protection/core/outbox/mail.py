"""The ``mail`` channel: templated mail through Django's email framework.

A mail message's payload is the recipient, a template name and its context
(``{"to", "template", "context", "language"}``), nothing more: the mail is
rendered when it is sent, from ``<template>_subject.txt``, ``<template>.txt``
and, if it exists, ``<template>.html`` (sent as the HTML alternative), in
the payload's language (``{% translate %}`` works). The backend, server and
sender are Django's settings (``EMAIL_BACKEND``, ``EMAIL_HOST``…,
``DEFAULT_FROM_EMAIL``; ``config/settings.py`` reads them from
``DJANGO_EMAIL_*``). The Message-ID is the outbox message's id, the same on
every retry, so a mail delivered twice is one mail to clients that check.
"""

import datetime
import smtplib
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.utils import DNS_NAME
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import translation

from protection.core.outbox.channels import (
    Delivery,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from protection.core.outbox.models import OutboxMessage
from protection.core.outbox.services import outbox_enqueue


def mail_render(
    *, template: str, context: Mapping[str, Any], language: str | None = None
) -> tuple[str, str, str | None]:
    """``(subject, text, html or None)`` of ``template`` in ``language``."""
    with translation.override(language or settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string(f"{template}_subject.txt", dict(context)).split())
        text = render_to_string(f"{template}.txt", dict(context))
        try:
            html = render_to_string(f"{template}.html", dict(context))
        except TemplateDoesNotExist:
            html = None
    return subject, text, html


def mail_send(payload: Mapping[str, Any], delivery: Delivery) -> None:
    """The channel's sender: render and send one mail (errors name no address)."""
    to, template = payload.get("to"), payload.get("template")
    if not isinstance(to, str) or not isinstance(template, str):
        raise PermanentDeliveryError("mail payload without 'to' or 'template'")
    try:
        subject, text, html = mail_render(
            template=template,
            context=payload.get("context") or {},
            language=payload.get("language"),
        )
    except TemplateDoesNotExist as exc:
        raise PermanentDeliveryError(f"template {exc} does not exist") from None
    message = EmailMultiAlternatives(
        subject,
        text,
        settings.DEFAULT_FROM_EMAIL,
        [to],
        headers={
            "Message-ID": f"<{delivery.message_id}@{DNS_NAME}>",
            "Auto-Submitted": "auto-generated",
        },
    )
    if html is not None:
        message.attach_alternative(html, "text/html")
    try:
        message.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = sorted({code for code, _ in exc.recipients.values()})
        error = f"SMTP recipient refused ({', '.join(map(str, codes))})"
        if all(code >= 500 for code in codes):
            raise PermanentDeliveryError(error) from None
        raise RetryableDeliveryError(error) from None
    except smtplib.SMTPAuthenticationError as exc:
        # The server's credentials are wrong: fixable, so retried meanwhile.
        raise RetryableDeliveryError(f"SMTP authentication failed ({exc.smtp_code})") from None
    except smtplib.SMTPResponseException as exc:
        error = f"SMTP {exc.smtp_code} ({type(exc).__name__})"
        if exc.smtp_code >= 500:
            raise PermanentDeliveryError(error) from None
        raise RetryableDeliveryError(error) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise RetryableDeliveryError(f"mail server unavailable ({type(exc).__name__})") from None


def outbox_mail_enqueue(
    *,
    to: str,
    template: str,
    context: Mapping[str, Any],
    language: str | None = None,
    not_after: datetime.datetime | None = None,
    now: datetime.datetime | None = None,
    skip: str = "",
) -> OutboxMessage:
    """Queue a templated mail to ``to`` in the caller's transaction; return the message.

    ``context`` must be plain JSON and hold only what the template shows.
    ``skip``: record it as skipped instead (``outbox_enqueue``).
    """
    return outbox_enqueue(
        channel="mail",
        payload={"to": to, "template": template, "context": dict(context), "language": language},
        topic=template,
        not_after=not_after,
        now=now,
        skip=skip,
    )
