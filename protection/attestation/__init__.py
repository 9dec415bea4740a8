"""App attestation: evidence that the caller is a genuine build of the app.

One entry point, ``attestation_verify``, for both places evidence is asked
for: issuing a session (``purpose="session"``) and, for keys with
``attest_every_request``, every lookup and create (``purpose="request"``).
It takes plain values (the key, the request's headers lower-cased, the
client IP), never a request:

- the verifications the key requires (``approov``, ``app_check``,
  ``app_attest``) must each pass; missing evidence is
  ``attestation_required``;
- evidence that is present is always verified, required or not: invalid
  evidence fails (``attestation_invalid`` / ``attestation_replayed``) even
  where attestation is optional. Evidence for a verifier this deployment has
  no configuration for, and that the key does not require, is ignored;
- every refusal records one ``deny`` event (kind ``attestation_failed`` or
  ``attestation_replayed``, reason ``<verifier>_<why>``, details naming the
  verifier and the device) that the automatic-blocking rules count per IP
  and device; a verifier that cannot work (not configured, JWKS unreachable)
  is ``attestation_unavailable`` (503) with an ``alert`` event.

Verifiers live in their own modules behind ``base.Verifier`` and register
themselves; ``VERIFIER_MODULES`` lists those imported on first use (a
module not written yet is skipped: a key requiring it then gets 503).
"""

import datetime
import importlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from protection.attestation.base import (
    AttestationFailure,
    Attested,
    Purpose,
    Verifier,
    registered_verifiers,
    verifier_register,
    verifier_unregister,
)
from protection.base.crypto import keyed_digest
from protection.base.exceptions import ProtectionError
from protection.core.events import event_record, refuse
from protection.core.ratelimit import Claim
from protection.keys.models import (  # the names this package decides
    ATTESTATION_VERIFICATIONS,
    verifications_observed,
)

__all__ = [
    "ATTESTATION_VERIFICATIONS",
    "AttestationFailure",
    "AttestationResult",
    "Attested",
    "Purpose",
    "Verifier",
    "attestation_replay_refusal",
    "attestation_required",
    "attestation_verifiers",
    "attestation_verify",
    "verifier_register",
    "verifier_unregister",
]

VERIFIER_MODULES = (
    "protection.attestation.approov",
    "protection.attestation.app_check",
    "protection.attestation.app_attest",
)
_loaded = False


@dataclass(frozen=True)
class AttestationResult:
    """What passed: the verifiers (in check order) and the device id, if one named it.

    ``claims``: at session start, ``(verifier, Claim)`` for each piece of
    evidence that must be used once: the caller claims them in its round
    trip and refuses the request when one was claimed before
    (``attestation_replay_refusal``). The device id is verified: an
    attestation vouched for it.
    """

    verified: tuple[str, ...] = ()
    device_id: str | None = None
    claims: tuple[tuple[str, Claim], ...] = ()


def attestation_verifiers() -> dict[str, Verifier]:
    """The registered verifiers by name (importing the built-in ones once)."""
    global _loaded
    if not _loaded:
        for module in VERIFIER_MODULES:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise
        _loaded = True
    return registered_verifiers()


def attestation_required(*, api_key: Any, purpose: Purpose) -> tuple[str, ...]:
    """The attestation verifications ``api_key`` requires for ``purpose``."""
    if purpose == "request" and not getattr(api_key, "attest_every_request", False):
        return ()
    names = tuple(api_key.required_verifications or ())
    return tuple(name for name in names if name in ATTESTATION_VERIFICATIONS)


def _refuse(
    failure: AttestationFailure,
    *,
    verifier: str,
    api_key: Any,
    purpose: str,
    client_ip: str | None,
    session_id: Any,
    path: str | None,
    detail: str | None = None,
) -> ProtectionError:
    error = ProtectionError(failure.code, detail, extra={"verifier": verifier})
    reason = f"{verifier}_{failure.reason}"[:64]
    who = {"api_key": api_key, "session_id": session_id, "client_ip": client_ip}
    details = {
        "verifier": verifier,
        "device_id": failure.device_id,
        "purpose": purpose,
        "reason": failure.reason,
    }
    if failure.code == "attestation_unavailable":
        # Our fault, not the client's: an alert, and never observed away.
        event_record(
            kind="attestation_unavailable", decision="alert", reason=reason, details=details, **who
        )
        return error
    replayed = failure.code == "attestation_replayed"
    refuse(
        error,
        kind="attestation_replayed" if replayed else "attestation_failed",
        reason=reason,
        observe=verifications_observed(api_key),
        details=details,
        **who,
    )
    return error


def attestation_verify(
    *,
    api_key: Any,
    evidence: Mapping[str, str],
    purpose: Purpose,
    bound_value: str | None = None,
    client_ip: str | None = None,
    session_id: Any = None,
    path: str | None = None,
    now: datetime.datetime | None = None,
) -> AttestationResult:
    """Check the attestation evidence of one request; raise ProtectionError if refused.

    ``evidence``: the request's headers (any case; non-text values are
    ignored). ``bound_value``: the value Approov's ``pay`` must bind; None =
    taken from ``evidence`` (``X-Api-Key`` for a session, ``Authorization``
    for a request). Returns which verifiers passed and the device id.
    """
    if purpose not in ("session", "request"):
        raise ValueError(f"purpose must be 'session' or 'request', not {purpose!r}")
    try:
        return _attestation_verify(
            api_key=api_key,
            evidence=evidence,
            purpose=purpose,
            bound_value=bound_value,
            client_ip=client_ip,
            session_id=session_id,
            path=path,
            now=now,
        )
    except ProtectionError as error:
        # Observe mode (a dry run of the requirement): recorded, let through.
        if error.code == "attestation_unavailable" or not verifications_observed(api_key):
            raise
        return AttestationResult()


def _attestation_verify(
    *,
    api_key: Any,
    evidence: Mapping[str, str],
    purpose: Purpose,
    bound_value: str | None,
    client_ip: str | None,
    session_id: Any,
    path: str | None,
    now: datetime.datetime | None,
) -> AttestationResult:
    now = now or timezone.now()
    evidence = {str(k).lower(): v for k, v in evidence.items() if isinstance(v, str)}
    required = attestation_required(api_key=api_key, purpose=purpose)
    context = {
        "api_key": api_key,
        "purpose": purpose,
        "client_ip": client_ip,
        "session_id": session_id,
        "path": path,
    }
    verifiers = attestation_verifiers()
    verified: list[str] = []
    device_id: str | None = None
    claims: list[tuple[str, Claim]] = []
    for name, verifier in verifiers.items():
        if not any(evidence.get(key) for key in verifier.evidence_keys()):
            continue
        if name not in required and not verifier.configured(api_key=api_key):
            continue  # nothing to check it against, and nobody asked for it
        try:
            outcome = verifier.verify(
                api_key=api_key,
                evidence=evidence,
                purpose=purpose,
                bound_value=bound_value,
                now=now,
            )
        except AttestationFailure as failure:
            raise _refuse(failure, verifier=name, **context) from None
        verified.append(name)
        device_id = device_id or outcome.device_id
        if purpose == "session" and outcome.replay_id:
            claims.append((name, _single_use(name, outcome, now)))
    for name in required:
        if name in verified:
            continue
        wanted = verifiers.get(name)
        if wanted is None:
            unavailable = AttestationFailure("attestation_unavailable", "not_installed")
            raise _refuse(unavailable, verifier=name, **context)
        header = ", ".join(wanted.evidence_keys())
        raise _refuse(
            AttestationFailure("attestation_required", "missing"),
            verifier=name,
            detail=f"This API key requires {name} evidence: send it in {header}.",
            **context,
        )
    return AttestationResult(verified=tuple(verified), device_id=device_id, claims=tuple(claims))


REPLAY_PREFIX = "gh:attest:spent:"


def _single_use(name: str, outcome: Attested, now: datetime.datetime) -> Claim:
    # One token starts one session: remembered until it would be refused anyway.
    ttl = max(1, math.ceil(outcome.replay_until - now.timestamp()))
    digest = keyed_digest(f"{name}|{outcome.replay_id}", purpose="attestation-replay")
    return Claim(REPLAY_PREFIX + digest, ttl)


def attestation_replay_refusal(
    *,
    verifier: str,
    api_key: Any,
    client_ip: str | None = None,
    session_id: Any = None,
    device_id: str | None = None,
) -> ProtectionError | None:
    """Record that session-start evidence of ``verifier`` was used before; return the
    403 ``attestation_replayed`` to raise (None when the key's evidence only observes)."""
    failure = AttestationFailure("attestation_replayed", "replayed", device_id=device_id)
    error = _refuse(
        failure,
        verifier=verifier,
        api_key=api_key,
        purpose="session",
        client_ip=client_ip,
        session_id=session_id,
        path=None,
    )
    return None if verifications_observed(api_key) else error
