"""Confirming a pending sign-up: its code (or its link's token) becomes the person.

``verification_confirm_input`` validates a confirm (the plan's parse);
``verification_confirm`` (``POST /api/v1/persons/confirm``) checks a code,
from the session that asked for it, or a link's token, from any session:
keyed digests compared in constant time, single use. The person is created
through ``signup.services.person_insert`` with what the create that started
it left on the pending sign-up (its key, session, verdict, network,
snapshot), in the transaction that deletes the pending sign-up. A wrong code
counts against it; after ``SIGNUP_VERIFY_MAX_ATTEMPTS`` of them, or once
expired, it is void. Refusals are ``verification_failed`` events.
"""

import datetime
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from protection.base.exceptions import ProtectionError, problem_body
from protection.core.events import refuse
from protection.core.verdict import ACTIONS, Verdict
from protection.keys import ApiKey
from signup import idempotency, normalization, pumping
from signup.conf import signup_settings
from signup.limits import Session, identifier_digest
from signup.pending import PendingSignup
from signup.persons import Person
from signup.services import (
    CreateInput,
    CreateOutcome,
    SessionRef,
    idempotency_begin,
    person_insert,
)
from signup.verification import (
    CODE_DIGITS,
    verification_code_digest,
    verification_token_digest,
)


@dataclass(frozen=True)
class ConfirmInput:
    """A validated confirm: a code for an address, or a link's token."""

    identifier: str  # the normalised email or phone ("" for a token)
    code: str  # "" for a token
    token: str  # "" for a code
    idempotency_key: str | None = None
    digest: str | None = None
    replay: idempotency.StoredResponse | None = None


def verification_confirm_input(
    *,
    api_key: ApiKey,
    email: str | None = None,
    phone: str | None = None,
    code: str | None = None,
    token: str | None = None,
    idempotency_key: str | None = None,
    request_data: Any = None,
    now: datetime.datetime | None = None,
) -> ConfirmInput:
    """Validate a confirm: exactly one of email, phone (each with ``code``) or ``token``.

    Raises ``invalid_request`` for anything else. A repeat of a completed
    Idempotency-Key with the same body carries its stored answer.
    """
    given = [
        name for name, value in (("email", email), ("phone", phone), ("token", token)) if value
    ]
    if len(given) != 1:
        raise ProtectionError("invalid_request", "Send exactly one of email, phone or token.")
    identifier = ""
    if email:
        identifier = _normalized("email", normalization.email_normalize, email)
    elif phone:
        identifier = _normalized("phone", normalization.phone_normalize, phone)
    if identifier and not code:
        raise _field_error("code", "required", "Enter the code we sent.")
    if token and code:
        raise ProtectionError("invalid_request", "Send a token or a code, not both.")
    if code and not (len(code) == CODE_DIGITS and code.isascii() and code.isdigit()):
        raise _field_error("code", "invalid_code", f"The code has {CODE_DIGITS} digits.")
    data = ConfirmInput(identifier, code or "", token or "")
    if idempotency_key is None:
        return data
    key = idempotency.idempotency_key_validate(idempotency_key)
    digest = idempotency.request_digest(request_data if request_data is not None else {})
    replay = idempotency.idempotency_replay(api_key=api_key, key=key, digest=digest, now=now)
    return ConfirmInput(data.identifier, data.code, data.token, key, digest, replay)


def _field_error(field: str, code: str, detail: str) -> ProtectionError:
    return ProtectionError(
        "invalid_request", extra={"errors": [{"field": field, "code": code, "detail": detail}]}
    )


def _normalized(field: str, normalize: Callable[[str], str], value: str) -> str:
    try:
        return normalize(value)
    except normalization.InvalidValue as exc:
        raise _field_error(field, exc.code, exc.message) from exc


def _pending_find(data: ConfirmInput, session: Session) -> PendingSignup | None:
    pending = PendingSignup.objects.select_for_update().select_related("api_key")
    if data.token:
        return pending.filter(token_digest=verification_token_digest(data.token)).first()
    return pending.filter(
        session_id=session.id, identifier_digest=identifier_digest(data.identifier)
    ).first()


def _verdict(pending: PendingSignup) -> Verdict | None:
    if pending.verdict_action not in ACTIONS:
        return None
    return Verdict(pending.verdict_action, pending.risk, tuple(pending.risk_reasons))  # type: ignore[arg-type]


def verification_confirm(
    *,
    data: ConfirmInput,
    api_key: ApiKey,
    session: Session,
    client_ip: str,
    render: Callable[[Person], dict[str, Any]],
    now: datetime.datetime | None = None,
) -> CreateOutcome:
    """Create the person of a pending sign-up whose code (or token) this is: 201.

    Raises ``verification_code_invalid`` (a wrong code; for a taken address,
    any code) or ``verification_expired`` (nothing pending: expired, used,
    void), each recorded as ``verification_failed``. 409 ``conflict`` when
    the address was taken since the code was sent. With an Idempotency-Key a
    201 (or 409) is stored and replayed; a refusal is not.
    """
    now = now or timezone.now()
    if data.replay is not None:
        return CreateOutcome(data.replay.status, data.replay.body, replayed=True)
    failure: ProtectionError | None = None
    prefix = ""
    with transaction.atomic():
        replay, claim = idempotency_begin(data.idempotency_key, data.digest, api_key, now)
        if replay is not None:
            return replay
        pending = _pending_find(data, session)
        outcome, failure = _confirm(pending, data, api_key, session, client_ip, render, now)
        if outcome is not None and outcome.person is not None and pending and pending.phone:
            if pending.channel == PendingSignup.Channel.SMS:
                prefix = normalization.phone_prefix(pending.phone)
        if claim is not None:
            if failure is None and outcome is not None:
                idempotency.idempotency_complete(
                    record=claim, status=outcome.status, body=outcome.body
                )
            else:
                claim.delete()  # a refusal is not the final answer: not stored
    if failure is not None:
        raise failure
    if prefix:
        pumping.sms_confirm_count(prefix)  # the conversion monitor's confirms
    assert outcome is not None
    return outcome


def _confirm(
    pending: PendingSignup | None,
    data: ConfirmInput,
    api_key: ApiKey,
    session: Session,
    client_ip: str,
    render: Callable[[Person], dict[str, Any]],
    now: datetime.datetime,
) -> tuple[CreateOutcome | None, ProtectionError | None]:
    """Check the code against ``pending`` (locked) and create the person; or the refusal."""
    details: dict[str, Any] = {"by": "token" if data.token else "code"}
    if pending is not None:
        details["identifier_digest"] = pending.identifier_digest
    max_attempts = int(signup_settings.SIGNUP_VERIFY_MAX_ATTEMPTS)
    if pending is None or pending.expires_at <= now or pending.attempts >= max_attempts:
        return None, _refused("verification_expired", details, api_key, session, client_ip)
    if data.token:
        matches = True  # found by its token's digest
    else:
        matches = hmac.compare_digest(
            verification_code_digest(pending.token_digest, data.code), pending.code_digest
        )
    if not (matches and pending.deliverable):
        pending.attempts += 1
        pending.save(update_fields=["attempts"])
        details["attempts"] = pending.attempts
        return None, _refused("verification_code_invalid", details, api_key, session, client_ip)
    network = pending.client_ip_prefix.partition("/")[0]
    person = person_insert(
        data=CreateInput(pending.email, pending.full_name, pending.phone or None),
        api_key=pending.api_key,
        session=SessionRef(pending.session_id),
        client_ip=network or client_ip,
        verdict=_verdict(pending),
        now=now,
        snapshot=pending.snapshot,
    )
    pending.delete()  # single use, whatever the insert said
    if person is None:
        return CreateOutcome(409, problem_body("conflict")), None
    return CreateOutcome(201, render(person), person=person), None


def _refused(
    code: str, details: dict[str, Any], api_key: ApiKey, session: Session, client_ip: str
) -> ProtectionError:
    return refuse(
        code,
        kind="verification_failed",
        details=details,
        api_key=api_key,
        session_id=session.id,
        client_ip=client_ip,
    )
