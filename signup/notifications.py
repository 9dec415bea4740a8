"""What sign-up sends: the verification code (mail or SMS) and the notice to an
address's owner, queued in the outbox inside the caller's transaction.

The payloads hold the recipient and the template context only (the code,
the confirm link, minutes left, the service name); the outbox renders the
templates in ``signup/templates/signup/mail/`` and ``…/sms/`` when it
sends, and scrubs the payload once sent. A code message is never sent
after its code expired (``not_after``).
"""

import datetime
import math
from urllib.parse import quote

from django.utils import timezone

from protection.conf import gatehouse_settings
from protection.core.outbox import OutboxMessage
from protection.core.outbox.mail import outbox_mail_enqueue
from protection.core.outbox.sms import outbox_sms_enqueue
from signup.conf import signup_settings

CODE_MAIL = "signup/mail/verification_code"
NOTICE_MAIL = "signup/mail/signup_attempt_notice"
CODE_SMS = "signup/sms/verification_code.txt"
NOTICE_SMS = "signup/sms/signup_attempt_notice.txt"


def verification_confirm_link(token: str) -> str | None:
    """``<confirm page>#t=<token>``, or None when no page URL is known.

    The token rides in the fragment: browsers never send it to a server
    (no access log, no Referer), and no identifier is ever in the URL.
    """
    base = signup_settings.SIGNUP_CONFIRM_URL
    if not base and gatehouse_settings.PUBLIC_BASE_URL:
        base = gatehouse_settings.PUBLIC_BASE_URL.rstrip("/") + "/confirm"
    if not base:
        return None
    return f"{base.split('#', 1)[0]}#t={quote(token, safe='')}"


def _minutes_left(expires_at: datetime.datetime, now: datetime.datetime) -> int:
    return max(1, math.ceil((expires_at - now).total_seconds() / 60))


def verification_code_mail_enqueue(
    *,
    email: str,
    code: str,
    token: str,
    expires_at: datetime.datetime,
    language: str | None = None,
    now: datetime.datetime | None = None,
) -> OutboxMessage:
    """Queue the code mail (the code, and the confirm link with ``token``)."""
    now = now or timezone.now()
    context = {
        "code": code,
        "link": verification_confirm_link(token),
        "expires_minutes": _minutes_left(expires_at, now),
        "service_name": signup_settings.SIGNUP_SERVICE_NAME,
    }
    return outbox_mail_enqueue(
        to=email, template=CODE_MAIL, context=context, language=language, not_after=expires_at,
        now=now,
    )  # fmt: skip


def verification_code_sms_enqueue(
    *,
    phone: str,
    code: str,
    expires_at: datetime.datetime,
    language: str | None = None,
    now: datetime.datetime | None = None,
    target: str = "",
) -> OutboxMessage:
    """Queue the code SMS to ``phone`` (E.164). ``target``: what the outbox shows
    of the recipient (``prefix:+1201555``: sends per prefix in the admin)."""
    now = now or timezone.now()
    context = {
        "code": code,
        "expires_minutes": _minutes_left(expires_at, now),
        "service_name": signup_settings.SIGNUP_SERVICE_NAME,
    }
    return outbox_sms_enqueue(
        to=phone, template=CODE_SMS, context=context, language=language, not_after=expires_at,
        now=now, target=target,
    )  # fmt: skip


def signup_attempt_notice_mail_enqueue(
    *,
    email: str,
    language: str | None = None,
    now: datetime.datetime | None = None,
    skip: str = "",
) -> OutboxMessage:
    """Queue "someone tried to sign up with this address" to the address's owner.

    At most one per address per day is the caller's rule (the flow's limiter).
    ``skip`` (why): write the row as skipped, not to be sent (the same work
    for a request whether or not it tells the owner).
    """
    context = {"service_name": signup_settings.SIGNUP_SERVICE_NAME}
    return outbox_mail_enqueue(
        to=email, template=NOTICE_MAIL, context=context, language=language, now=now, skip=skip
    )


def signup_attempt_notice_sms_enqueue(
    *,
    phone: str,
    language: str | None = None,
    now: datetime.datetime | None = None,
    target: str = "",
    skip: str = "",
) -> OutboxMessage:
    """Queue the same notice by SMS to a taken phone number's owner (``target``
    as for the code SMS, ``skip`` as for the mail)."""
    context = {"service_name": signup_settings.SIGNUP_SERVICE_NAME}
    return outbox_sms_enqueue(
        to=phone, template=NOTICE_SMS, context=context, language=language, now=now,
        target=target, skip=skip,
    )  # fmt: skip
