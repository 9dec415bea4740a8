"""Writes and decisions of the sign-up API: find_person and create_person.

The gate (``protection.http.gate``) runs the security steps and counts the
sign-up limits (``signup.limits``, the views' plans) before a service here
runs. ``person_lookup_input`` / ``person_create_input`` validate and
normalise what a client sent (the plans' parse: business refusals such as
``disposable_email`` are decided here); ``person_lookup`` answers one
boolean with one query; ``person_create`` inserts the person (the database's
unique constraints decide races: exactly one wins, the others get
``conflict``) and, with an Idempotency-Key, stores the answer for replay in
the same transaction. ``person_insert`` is the one place a person is
created: with it, in the same transaction, its creation snapshot
(``signup.snapshot``), its event and its ``person.created`` webhook. Every
denial and every creation is a SecurityEvent, with identifiers only as
keyed digests.
"""

import datetime
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import idna
from disposable_email_domains import blocklist as disposable_domains
from django.db import IntegrityError, transaction
from django.utils import timezone

from protection.base.exceptions import ProtectionError, problem_body
from protection.blocks import blocks_check
from protection.core.events import event_record, refuse
from protection.core.verdict import Verdict
from protection.keys import ApiKey
from protection.webhooks import webhooks_person_created_emit
from signup import idempotency, limits, normalization
from signup.conf import signup_settings
from signup.limits import LookupInput, Session
from signup.persons import Person
from signup.pumping import SmsTarget, phone_sms_check
from signup.selectors import person_exists
from signup.snapshot import CreationSnapshot, creation_snapshot_basic


@dataclass(frozen=True)
class CreateOutcome:
    """The answer to a create: 201 with the person or 409, possibly replayed."""

    status: int
    body: dict[str, Any]
    replayed: bool = False
    person: Person | None = None


@dataclass(frozen=True)
class CreateInput:
    """A validated create: the normalised person, and its Idempotency-Key."""

    email: str
    full_name: str
    phone: str | None
    idempotency_key: str | None = None
    digest: str | None = None  # of the request body, for the Idempotency-Key
    # The stored answer of this Idempotency-Key's first use, when this is a replay.
    replay: idempotency.StoredResponse | None = None
    # The verification mode it was parsed in (SIGNUP_VERIFY: none, email, phone)
    # and, in phone mode, where the code SMS would go.
    verify: str = "none"
    sms: SmsTarget | None = None


class SessionRef(NamedTuple):
    """A session known by its id only (a pending sign-up's, when it is confirmed)."""

    id: uuid.UUID


def _normalized(field: str, normalize: Callable[[str], str], value: str) -> str:
    try:
        return normalize(value)
    except normalization.InvalidValue as exc:
        raise ProtectionError(
            "invalid_request",
            extra={"errors": [{"field": field, "code": exc.code, "detail": exc.message}]},
        ) from exc


def person_lookup_input(*, email: str | None = None, phone: str | None = None) -> LookupInput:
    """The lookup's identifier, normalised (exactly one of ``email`` or ``phone``).

    Raises ``invalid_request`` (with field errors) for a value that does not
    normalise.
    """
    if (email is None) == (phone is None):
        raise ProtectionError("invalid_request", "Send exactly one of email or phone.")
    if email is not None:
        return LookupInput("email", _normalized("email", normalization.email_normalize, email))
    return LookupInput("phone", _normalized("phone", normalization.phone_normalize, phone or ""))


def person_lookup(*, lookup: LookupInput) -> bool:
    """Whether a person with this normalised email or phone exists: one query.

    The gate has counted and judged the lookup's limits before.
    """
    return person_exists(**{lookup.kind: lookup.identifier})


def _is_disposable(domain: str) -> bool:
    """Whether ``domain`` or a parent of it is on the list (ASCII/punycode entries)."""
    labels = idna.encode(domain, uts46=True).decode("ascii").split(".")
    return any(".".join(labels[i:]) in disposable_domains for i in range(len(labels) - 1))


def person_insert(
    *,
    data: CreateInput,
    api_key: ApiKey,
    session: Session | SessionRef,
    client_ip: str,
    verdict: Verdict | None,
    now: datetime.datetime,
    snapshot: Mapping[str, Any] | None,
) -> Person | None:
    """Insert the person, or return None (and record the refusal) if email/phone is taken.

    The one place a person is created: by a create (``person_create``) or a
    confirmed code (``signup.confirmation``), inside the caller's
    transaction. ``verdict`` and ``client_ip`` are the gate's on the request
    that asked for the person (for a confirm, the create that started it).
    With the person: its creation snapshot (``snapshot``, from
    ``signup.snapshot.creation_snapshot`` on that request; empty or None:
    the least this call knows), the ``person_created`` event and the
    ``person.created`` webhook. A create that rolls back sends nothing.
    """
    digests = {"email_digest": limits.identifier_digest(data.email)}
    if data.phone:
        digests["phone_digest"] = limits.identifier_digest(data.phone)
    try:
        with transaction.atomic():  # savepoint: the outer transaction survives a conflict
            person = Person.objects.create(
                email=data.email,
                phone=data.phone,
                full_name=data.full_name,
                created_at=now,
                created_by_key=api_key,
                created_in_session=session.id,
                risk=verdict.risk if verdict else 0,
                risk_reasons=list(verdict.reasons) if verdict else [],
            )
    except IntegrityError:
        refuse(
            "conflict",
            kind="person_create_refused",
            client_ip=client_ip,
            api_key=api_key,
            session_id=session.id,
            details=digests,
        )
        return None
    CreationSnapshot.objects.create(
        person=person,
        created_at=now,
        data=dict(snapshot)
        if snapshot
        else creation_snapshot_basic(
            api_key_public_id=api_key.public_id,
            session_id=session.id,
            client_ip=client_ip,
            verdict=verdict,
        ),
    )
    event_record(
        kind="person_created",
        decision="allow",
        reason="created",
        client_ip=client_ip,
        api_key=api_key,
        session_id=session.id,
        details={"person_id": str(person.id), **digests, **_verdict_details(verdict)},
    )
    webhooks_person_created_emit(
        person_id=person.id,
        created_at=now,
        api_key_public_id=api_key.public_id,
        session_id=session.id,
        verdict=verdict,
        email=person.email,
        phone=person.phone,
        full_name=person.full_name,
    )
    return person


def _verdict_details(verdict: Verdict | None) -> dict[str, Any]:
    if verdict is None:
        return {}
    return {
        "verdict": {
            "action": verdict.action,
            "risk": verdict.risk,
            "reasons": list(verdict.reasons),
        }
    }


def person_create_input(
    *,
    email: str,
    full_name: str,
    api_key: ApiKey,
    phone: str | None = None,
    idempotency_key: str | None = None,
    request_data: Any = None,
    client_ip: str | None = None,
    session_id: Any = None,
    now: datetime.datetime | None = None,
) -> CreateInput:
    """Validate and normalise a create, before anything is counted.

    Raises ``invalid_request``, ``disposable_email`` (recorded) and
    ``blocked`` (an email domain on the block list). With an
    ``idempotency_key`` whose first use already completed with the same
    ``request_data``, the input carries that stored answer (a replay: it is
    not counted again).
    """
    email = _normalized("email", normalization.email_normalize, email)
    full_name = _normalized("full_name", normalization.full_name_normalize, full_name)
    phone = _normalized("phone", normalization.phone_normalize, phone) if phone else None
    verify = str(signup_settings.SIGNUP_VERIFY)
    if verify == "phone" and phone is None:
        raise ProtectionError(
            "invalid_request",
            extra={
                "errors": [
                    {
                        "field": "phone",
                        "code": "required",
                        "detail": "Enter a phone number: the code is sent to it by SMS.",
                    }
                ]
            },
        )
    domain = normalization.email_domain(email)
    if signup_settings.SIGNUP_REFUSE_DISPOSABLE_EMAIL and _is_disposable(domain):
        raise refuse(
            "disposable_email",
            kind="person_create_refused",
            client_ip=client_ip,
            api_key=api_key,
            session_id=session_id,
            details={"email_digest": limits.identifier_digest(email)},
        )
    blocks_check(email_domain=domain)
    sms = None
    if verify == "phone" and phone is not None:
        sms = phone_sms_check(
            phone=phone, api_key=api_key, session_id=session_id, client_ip=client_ip
        )
    elif phone is not None:
        blocks_check(phone_prefix=normalization.phone_prefix(phone))
    if idempotency_key is None:
        return CreateInput(email, full_name, phone, verify=verify, sms=sms)
    idempotency_key = idempotency.idempotency_key_validate(idempotency_key)
    digest = idempotency.request_digest(
        request_data
        if request_data is not None
        else {"email": email, "full_name": full_name, "phone": phone}
    )
    replay = idempotency.idempotency_replay(
        api_key=api_key, key=idempotency_key, digest=digest, now=now
    )
    return CreateInput(email, full_name, phone, idempotency_key, digest, replay, verify, sms)


def idempotency_begin(
    key: str | None, digest: str | None, api_key: ApiKey, now: datetime.datetime
) -> tuple[CreateOutcome | None, idempotency.IdempotencyRecord | None]:
    """A create's Idempotency-Key, inside its transaction: the stored answer to
    replay, or the claim to complete with this create's answer (neither without a key)."""
    if key is None or digest is None:
        return None, None
    claim = idempotency.idempotency_claim(api_key=api_key, key=key, digest=digest, now=now)
    if isinstance(claim, idempotency.StoredResponse):
        return CreateOutcome(claim.status, claim.body, replayed=True), None
    return None, claim


def person_create(
    *,
    data: CreateInput,
    api_key: ApiKey,
    session: Session,
    client_ip: str,
    render: Callable[[Person], dict[str, Any]],
    verdict: Verdict | None = None,
    snapshot: Mapping[str, Any] | None = None,
    now: datetime.datetime | None = None,
) -> CreateOutcome:
    """Create the person ``data`` describes and return the answer to send (201, or
    409 if taken). ``verdict``: the gate's, stored on the person; ``snapshot``:
    the create's creation snapshot (``signup.snapshot.creation_snapshot``).

    ``render`` turns the new person into the response body (stored for
    replay). With an Idempotency-Key, a repeat of the same body replays the
    first answer without creating; another body raises ``idempotency_conflict``.
    """
    now = now or timezone.now()
    if data.replay is not None:
        return CreateOutcome(data.replay.status, data.replay.body, replayed=True)
    with transaction.atomic():
        replay, claim = idempotency_begin(data.idempotency_key, data.digest, api_key, now)
        if replay is not None:
            return replay
        person = person_insert(
            data=data,
            api_key=api_key,
            session=session,
            client_ip=client_ip,
            verdict=verdict,
            now=now,
            snapshot=snapshot,
        )
        outcome = (
            CreateOutcome(201, render(person), person=person)
            if person is not None
            else CreateOutcome(409, problem_body("conflict"))
        )
        if claim is not None:
            idempotency.idempotency_complete(record=claim, status=outcome.status, body=outcome.body)
        return outcome
