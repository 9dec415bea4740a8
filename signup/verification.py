"""Contact verification: a create answers 202 and a code; the confirm creates the person.

With ``SIGNUP_VERIFY`` = ``email`` or ``phone``:

- ``verification_start`` (``POST /api/v1/persons``) answers the same 202 for a
  new and a taken address, with the same statements either way: one read of
  whether the email or phone is taken, the session's pending sign-up
  replaced (one upsert), one outbox row, one event. A new address gets
  a 6-digit code (and, by mail, a link with a single-use token); a taken one
  gets no code, and its owner a notice instead (the first request of the
  notice interval; ``signup.verifylimits`` counts it). Its pending sign-up
  is kept all the same, holding no personal data and a code nobody has, so
  that confirming it answers like a wrong code. A repeat within the resend
  cooldown changes and sends nothing.
- the confirm (``signup.confirmation``) checks the code against the keyed
  digests kept here and creates the person.

Codes and tokens exist in clear only in the outbox row that sends them
(scrubbed once sent). Sending is the outbox's, in the request's transaction.
"""

import datetime
import ipaddress
import secrets
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from protection.base.clientip import normalize_ip
from protection.base.crypto import keyed_digest
from protection.conf import gatehouse_settings
from protection.core.events import event_record
from protection.core.verdict import Verdict
from protection.keys import ApiKey
from signup import idempotency, notifications
from signup.conf import signup_settings
from signup.limits import Session, identifier_digest
from signup.pending import PendingSignup
from signup.persons import Person
from signup.services import CreateInput, CreateOutcome, idempotency_begin
from signup.verifylimits import VerifySend, code_address

CODE_DIGITS = 6
# What a new send replaces in the session's pending sign-up: everything but its id.
REPLACED_FIELDS = [
    field.name
    for field in PendingSignup._meta.concrete_fields
    if field.name not in ("id", "session_id")
]
IPV4_PREFIX = 24  # the create's client network kept for the person's record
TOKEN_BYTES = 32


def verification_pending_body(verify: str) -> dict[str, Any]:
    """The 202 body: the same for every create of a mode (nothing in it depends on the address)."""
    return {
        "status": "pending",
        "channel": "sms" if verify == "phone" else "email",
        "expires_in": int(signup_settings.SIGNUP_VERIFY_CODE_TTL),
    }


def verification_code_digest(token_digest: str, code: str) -> str:
    """Keyed digest of ``code`` sent with the token of ``token_digest``: what is stored.

    Bound to that one send: one code's digest says nothing of another's.
    """
    return keyed_digest(f"{token_digest}\x00{code}", purpose="signup-verification-code")


def verification_token_digest(token: str) -> str:
    """Keyed digest of a link's token: what is stored, and what a confirm looks up."""
    return keyed_digest(token, purpose="signup-verification-token")


def _network(client_ip: str) -> str:
    """The client's network (IPv4 /24, IPv6 by ``IPV6_GROUP_PREFIX``), never its address."""
    address = normalize_ip(client_ip)
    if address is None:
        return ""
    prefix = IPV4_PREFIX if ":" not in address else int(gatehouse_settings.IPV6_GROUP_PREFIX)
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _taken(data: CreateInput) -> tuple[bool, bool]:
    """Whether the email, and the phone, belong to someone: one query either way."""
    match = Q(email=data.email) | (Q(phone=data.phone) if data.phone else Q(pk__in=[]))
    rows = list(Person.objects.filter(match).values_list("email", "phone")[:2])
    return (
        any(email == data.email for email, _ in rows),
        bool(data.phone) and any(phone == data.phone for _, phone in rows),
    )


def verification_start(
    *,
    data: CreateInput,
    send: VerifySend,
    api_key: ApiKey,
    session: Session,
    client_ip: str,
    verdict: Verdict | None = None,
    snapshot: dict[str, Any] | None = None,
    language: str | None = None,
    now: datetime.datetime | None = None,
) -> CreateOutcome:
    """Answer a create in verification mode: 202, and a code or a notice queued.

    ``send``: what the request's counters said (a repeat within the cooldown,
    the notices' interval). With an Idempotency-Key the 202 is stored and
    replayed like a 201.
    """
    now = now or timezone.now()
    body = verification_pending_body(data.verify)
    if data.replay is not None:
        return CreateOutcome(data.replay.status, data.replay.body, replayed=True)
    with transaction.atomic():
        replay, claim = idempotency_begin(data.idempotency_key, data.digest, api_key, now)
        if replay is not None:
            return replay
        if not send.cooldown:
            _pending_replace(
                data=data,
                send=send,
                api_key=api_key,
                session=session,
                client_ip=client_ip,
                verdict=verdict,
                snapshot=snapshot or {},
                language=language,
                now=now,
            )
        if claim is not None:
            idempotency.idempotency_complete(record=claim, status=202, body=body)
    return CreateOutcome(202, body)


def _pending_replace(
    *,
    data: CreateInput,
    send: VerifySend,
    api_key: ApiKey,
    session: Session,
    client_ip: str,
    verdict: Verdict | None,
    snapshot: dict[str, Any],
    language: str | None,
    now: datetime.datetime,
) -> None:
    """The session's pending sign-up, made anew (the old code dies), and what to send."""
    email_taken, phone_taken = _taken(data)
    deliverable = not (email_taken or phone_taken)
    expires_at = now + datetime.timedelta(seconds=int(signup_settings.SIGNUP_VERIFY_CODE_TTL))
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    token = secrets.token_urlsafe(TOKEN_BYTES)
    channel = PendingSignup.Channel.SMS if data.verify == "phone" else PendingSignup.Channel.EMAIL
    address = code_address(data)
    pending = PendingSignup(
        session_id=session.id,
        api_key=api_key,
        channel=channel,
        identifier_digest=identifier_digest(address),
        token_digest=verification_token_digest(token),
        deliverable=deliverable,
        # A taken address's pending sign-up keeps nothing personal: it never confirms.
        email=data.email if deliverable else "",
        phone=(data.phone or "") if deliverable else "",
        full_name=data.full_name if deliverable else "",
        created_at=now,
        expires_at=expires_at,
        client_ip_prefix=_network(client_ip),
        verdict_action=verdict.action if verdict else "",
        risk=verdict.risk if verdict else 0,
        risk_reasons=list(verdict.reasons) if verdict else [],
        snapshot=snapshot,
    )
    pending.code_digest = verification_code_digest(pending.token_digest, code)
    # One statement, insert or replace: creates of one session at once (other
    # sign-ups, when its quota allows) replace each other, the last one wins.
    PendingSignup.objects.bulk_create(
        [pending],
        update_conflicts=True,
        unique_fields=["session_id"],
        update_fields=REPLACED_FIELDS,
    )
    sms_target = f"prefix:{data.sms.prefix}" if data.sms is not None else ""
    if not deliverable:
        sent = _notice(data, send, email_taken, phone_taken, sms_target, language, now)
    elif channel == PendingSignup.Channel.SMS:
        notifications.verification_code_sms_enqueue(
            phone=address, code=code, expires_at=expires_at, language=language, now=now,
            target=sms_target,
        )  # fmt: skip
        sent = "code"
    else:
        notifications.verification_code_mail_enqueue(
            email=address, code=code, token=token, expires_at=expires_at, language=language,
            now=now,
        )  # fmt: skip
        sent = "code"
    event_record(
        kind="verification_started",
        decision="allow",
        reason=str(channel),
        client_ip=client_ip,
        api_key=api_key,
        session_id=session.id,
        details={
            "channel": str(channel),
            "identifier_digest": pending.identifier_digest,
            "sent": sent,
        },
    )


def _notice(
    data: CreateInput,
    send: VerifySend,
    email_taken: bool,
    phone_taken: bool,
    sms_target: str,
    language: str | None,
    now: datetime.datetime,
) -> str:
    """Tell a taken address's owner, once per notice interval; return what was sent.

    Exactly one outbox row either way (a notice, or a skipped one), as a new
    address gets its code: the request does the same work. In phone mode the
    phone's owner comes first, then the email's (when the phone's owner was
    told today and the email's not); email mode sends no SMS.
    """
    owners = []
    if phone_taken and data.verify == "phone" and data.phone:
        owners.append(("sms", data.phone, send.notice_phone))
    if email_taken:
        owners.append(("mail", data.email, send.notice_email))
    for channel, address, allowed in owners:
        if not allowed:
            continue
        if channel == "sms":
            notifications.signup_attempt_notice_sms_enqueue(
                phone=address, language=language, now=now, target=sms_target
            )
        else:
            notifications.signup_attempt_notice_mail_enqueue(
                email=address, language=language, now=now
            )
        return "notice"
    if owners and owners[0][0] == "sms":
        notifications.signup_attempt_notice_sms_enqueue(
            phone=owners[0][1], now=now, target=sms_target, skip="told today already"
        )
    else:
        why = "told today already" if owners else "the phone is taken (no SMS in email mode)"
        notifications.signup_attempt_notice_mail_enqueue(email=data.email, now=now, skip=why)
    return "none"


def pending_signup_purge_expired(*, now: datetime.datetime | None = None) -> int:
    """Delete expired pending sign-ups; return how many."""
    now = now or timezone.now()
    deleted, _ = PendingSignup.objects.filter(expires_at__lte=now).delete()
    return deleted
