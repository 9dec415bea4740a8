"""The mail channel: Django's email framework, templates rendered when sent, and
how SMTP failures are judged (retry or give up), never naming the address."""

import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from protection.core.outbox import OutboxMessage, outbox_send_due
from protection.core.outbox.mail import outbox_mail_enqueue

pytestmark = pytest.mark.django_db


class FailingBackend(BaseEmailBackend):
    error: Exception = OSError("unreachable")

    def send_messages(self, messages):
        raise self.error


def _queue() -> OutboxMessage:
    return outbox_mail_enqueue(
        to="ada@example.com",
        template="signup/mail/signup_attempt_notice",
        context={"service_name": "Example"},
    )


def test_the_message_id_is_the_outbox_id_on_every_attempt(settings):
    message = _queue()
    outbox_send_due()
    sent = mail.outbox[0]
    assert sent.extra_headers["Message-ID"].startswith(f"<{message.public_id}@")
    assert sent.extra_headers["Auto-Submitted"] == "auto-generated"
    assert sent.from_email == settings.DEFAULT_FROM_EMAIL


@pytest.mark.parametrize(
    ("error", "status", "text"),
    [
        (OSError("connection refused"), "pending", "mail server unavailable (OSError)"),
        (smtplib.SMTPServerDisconnected("gone"), "pending", "(SMTPServerDisconnected)"),
        (
            smtplib.SMTPRecipientsRefused({"ada@example.com": (550, b"no such user")}),
            "dead",
            "SMTP recipient refused (550)",
        ),
        (
            smtplib.SMTPRecipientsRefused({"ada@example.com": (451, b"greylisted")}),
            "pending",
            "SMTP recipient refused (451)",
        ),
        (smtplib.SMTPDataError(554, b"spam"), "dead", "SMTP 554 (SMTPDataError)"),
        (smtplib.SMTPAuthenticationError(535, b"bad"), "pending", "authentication failed"),
    ],
)
def test_smtp_failures_are_retried_or_given_up_without_naming_the_address(
    settings, error, status, text
):
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    FailingBackend.error = error
    message = _queue()
    outbox_send_due()
    message.refresh_from_db()
    assert message.status == status
    assert text in message.last_error
    assert "ada@" not in message.last_error


def test_a_missing_template_gives_up(settings):
    message = outbox_mail_enqueue(to="ada@example.com", template="signup/mail/nope", context={})
    outbox_send_due()
    message.refresh_from_db()
    assert message.status == "dead" and "does not exist" in message.last_error
