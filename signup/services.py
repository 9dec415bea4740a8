"""Writes and decisions of the sign-up API: find_person and create_person.

``person_lookup`` enforces the lookup limits and answers one boolean;
``person_create`` enforces the create limits, inserts the person (the
database's unique constraints decide races: exactly one wins, the others get
``conflict``) and, with an Idempotency-Key, stores the answer for replay in
the same transaction. Every denial and every creation is a SecurityEvent,
with identifiers only as keyed digests.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import idna
from disposable_email_domains import blocklist as disposable_domains
from django.db import IntegrityError, transaction
from django.utils import timezone

from protection.base.exceptions import ProtectionError, problem_body
from protection.blocks import blocks_check
from protection.core.events import event_record
from protection.core.ratelimit import RequestLimits
from protection.keys import ApiKey
from signup import idempotency, limits, normalization
from signup.conf import signup_settings
from signup.limits import Session
from signup.persons import Person
from signup.selectors import person_exists


@dataclass(frozen=True)
class CreateOutcome:
    """The answer to a create: 201 with the person or 409, possibly replayed."""

    status: int
    body: dict[str, Any]
    replayed: bool = False
    person: Person | None = None


def _normalized(field: str, normalize: Callable[[str], str], value: str) -> str:
    try:
        return normalize(value)
    except normalization.InvalidValue as exc:
        raise ProtectionError(
            "invalid_request",
            extra={"errors": [{"field": field, "code": exc.code, "detail": exc.message}]},
        ) from exc


def _deny(
    *,
    kind: str,
    reason: str,
    client_ip: str,
    api_key: ApiKey,
    session: Session,
    details: dict[str, Any],
) -> None:
    event_record(
        kind=kind,
        decision="deny",
        reason=reason,
        client_ip=client_ip,
        api_key=api_key,
        session_id=session.id,
        details=details,
    )


def person_lookup(
    *,
    api_key: ApiKey,
    session: Session,
    client_ip: str,
    email: str | None = None,
    phone: str | None = None,
    request_limits: RequestLimits | None = None,
    now: datetime.datetime | None = None,
) -> bool:
    """Whether a person with this email or phone exists (exactly one given).

    Raises ``rate_limited`` (``LimitExceeded``) past a lookup limit; crossing a
    distinct-identifier limit is recorded as ``enumeration_suspected``.
    ``request_limits`` are the request's own limits, left pending by the edge: they
    are counted in the same round trip as the lookup's.
    """
    if (email is None) == (phone is None):
        raise ProtectionError("invalid_request", "Send exactly one of email or phone.")
    if email is not None:
        kind, identifier = "email", _normalized("email", normalization.email_normalize, email)
    else:
        kind, identifier = "phone", _normalized("phone", normalization.phone_normalize, phone or "")
    try:
        limits.lookup_limits_enforce(
            identifier=identifier,
            api_key=api_key,
            session=session,
            client_ip=client_ip,
            limits=request_limits,
            now=now,
        )
    except limits.LimitExceeded as exc:
        sweep = exc.reason in ("lookup_distinct_per_ip", "lookup_distinct_per_key")
        _deny(
            kind="enumeration_suspected" if sweep else "rate_limited",
            reason=exc.reason,
            client_ip=client_ip,
            api_key=api_key,
            session=session,
            details={
                "identifier_kind": kind,
                "identifier_digest": limits.identifier_digest(identifier),
            },
        )
        raise
    return person_exists(**{kind: identifier})


def _is_disposable(domain: str) -> bool:
    """Whether ``domain`` or a parent of it is on the list (ASCII/punycode entries)."""
    labels = idna.encode(domain, uts46=True).decode("ascii").split(".")
    return any(".".join(labels[i:]) in disposable_domains for i in range(len(labels) - 1))


def _insert_person(
    *,
    email: str,
    phone: str | None,
    full_name: str,
    api_key: ApiKey,
    session: Session,
    client_ip: str,
    now: datetime.datetime,
) -> Person | None:
    """Insert the person, or return None (and record the refusal) if email/phone is taken."""
    digests = {"email_digest": limits.identifier_digest(email)}
    if phone:
        digests["phone_digest"] = limits.identifier_digest(phone)
    try:
        with transaction.atomic():  # savepoint: the outer transaction survives a conflict
            person = Person.objects.create(
                email=email,
                phone=phone,
                full_name=full_name,
                created_at=now,
                created_by_key=api_key,
                created_in_session=session.id,
            )
    except IntegrityError:
        _deny(
            kind="person_create_refused",
            reason="conflict",
            client_ip=client_ip,
            api_key=api_key,
            session=session,
            details=digests,
        )
        return None
    event_record(
        kind="person_created",
        decision="allow",
        reason="created",
        client_ip=client_ip,
        api_key=api_key,
        session_id=session.id,
        details={"person_id": str(person.id), **digests},
    )
    return person


def person_create(
    *,
    email: str,
    full_name: str,
    api_key: ApiKey,
    session: Session,
    client_ip: str,
    render: Callable[[Person], dict[str, Any]],
    phone: str | None = None,
    idempotency_key: str | None = None,
    request_data: Any = None,
    now: datetime.datetime | None = None,
) -> CreateOutcome:
    """Create a person and return the answer to send (201, or 409 if taken).

    ``render`` turns the new person into the response body (stored for
    replay). With ``idempotency_key``, a repeat of the same ``request_data``
    replays the first answer without creating; other data raises
    ``idempotency_conflict``. Raises ``invalid_request``, ``disposable_email``
    and ``rate_limited`` (nothing is stored for those, a retry is judged anew).
    """
    now = now or timezone.now()
    email = _normalized("email", normalization.email_normalize, email)
    full_name = _normalized("full_name", normalization.full_name_normalize, full_name)
    phone = _normalized("phone", normalization.phone_normalize, phone) if phone else None
    domain = normalization.email_domain(email)
    refusal: dict[str, Any] = {
        "client_ip": client_ip,
        "api_key": api_key,
        "session": session,
    }
    if signup_settings.SIGNUP_REFUSE_DISPOSABLE_EMAIL and _is_disposable(domain):
        _deny(
            kind="person_create_refused",
            reason="disposable_email",
            details={"email_digest": limits.identifier_digest(email)},
            **refusal,
        )
        raise ProtectionError("disposable_email")
    blocks_check(email_domain=domain)
    digest = None
    if idempotency_key is not None:
        idempotency_key = idempotency.idempotency_key_validate(idempotency_key)
        digest = idempotency.request_digest(
            request_data
            if request_data is not None
            else {"email": email, "full_name": full_name, "phone": phone}
        )
    try:
        with transaction.atomic():
            claim = None
            if idempotency_key is not None and digest is not None:
                claim = idempotency.idempotency_claim(
                    api_key=api_key, key=idempotency_key, digest=digest, now=now
                )
                if isinstance(claim, idempotency.StoredResponse):
                    return CreateOutcome(claim.status, claim.body, replayed=True)
            # After the claim: a replay is never refused by a limit it already paid.
            limits.create_limits_enforce(session=session, client_ip=client_ip, now=now)
            person = _insert_person(
                email=email,
                phone=phone,
                full_name=full_name,
                api_key=api_key,
                session=session,
                client_ip=client_ip,
                now=now,
            )
            outcome = (
                CreateOutcome(201, render(person), person=person)
                if person is not None
                else CreateOutcome(409, problem_body("conflict"))
            )
            if claim is not None:
                idempotency.idempotency_complete(
                    record=claim, status=outcome.status, body=outcome.body
                )
            return outcome
    except limits.LimitExceeded as exc:
        # Recorded after the rollback, which also released the idempotency claim.
        _deny(
            kind="rate_limited",
            reason=exc.reason,
            details={"email_digest": limits.identifier_digest(email)},
            **refusal,
        )
        raise
