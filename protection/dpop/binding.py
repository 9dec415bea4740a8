"""The DPoP side of each session endpoint (RFC 9449), as the gate and the
session services use it.

- ``dpop_session_start``: the proof (optional or required) on
  ``POST /api/v1/sessions``; returns the verified proof whose key the new
  tokens are bound to;
- ``dpop_request_verify``: the token scheme, the proof and the binding on a
  later request; returns the verified proof (its jti still to claim);
- ``dpop_refresh_verify``: a proof by the bound key on refresh (spent at
  once); the binding carries over to the new tokens.

Every refusal is recorded (``refuse``) with the error code as the event kind
and the failed check as the reason.
"""

from typing import Any

from protection.core.events import refuse
from protection.dpop.proof import DpopError, VerifiedProof, dpop_proof_check, dpop_proof_verify


def dpop_refuse(exc: DpopError, *, api_key: Any, session_id: Any = None) -> DpopError:
    """Record a DPoP refusal (its code is its event kind) and return it to raise."""
    refuse(
        exc,
        kind=exc.code,
        reason=exc.reason,
        api_key=api_key,
        session_id=session_id,
        details={"verifier": "dpop"},
    )
    return exc


def dpop_session_start(
    *,
    proof: str | None,
    method: str,
    url: str,
    required: bool,
    api_key: Any = None,
    now: float | None = None,
) -> VerifiedProof | None:
    """The DPoP step of ``POST /api/v1/sessions``: the checked proof whose key the
    new tokens are bound to, or None when the client sent no proof and
    ``required`` (the key requires ``dpop``) is false. Its jti is the caller's
    to claim (``dpop_jti_claim``). Refusals are recorded."""
    try:
        if not proof:
            if required:
                raise DpopError(
                    "dpop_required", "proof_missing", "This API key requires a DPoP proof."
                )
            return None
        return dpop_proof_check(proof=proof, method=method, url=url, now=now)
    except DpopError as exc:
        raise dpop_refuse(exc, api_key=api_key) from None


def dpop_request_verify(
    *,
    scheme: str,
    access_token: str,
    token_jkt: str | None,
    proof: str | None,
    method: str,
    url: str,
    api_key: Any = None,
    session_id: Any = None,
    now: float | None = None,
) -> VerifiedProof | None:
    """Check the DPoP side of a request carrying a session's access token.

    ``scheme`` is the Authorization scheme as sent ("Bearer" / "DPoP"),
    ``token_jkt`` the verified token's ``cnf.jkt`` (``tokens.token_jkt``).
    A bound token needs the DPoP scheme and a proof by its key; an unbound
    token sent as DPoP is refused too (RFC 9449 section 7.1), so a client
    never believes it is protected when it is not. Returns the checked proof
    (None for an unbound token); its jti is the caller's to claim.
    """
    try:
        if token_jkt is None:
            if scheme.lower() == "dpop":
                raise DpopError(
                    "dpop_proof_invalid", "token_not_bound", "This token is not DPoP-bound."
                )
            return None
        if scheme.lower() != "dpop":
            raise DpopError("dpop_required", "bound_token_as_bearer")
        if not proof:
            raise DpopError("dpop_required", "proof_missing")
        return dpop_proof_check(
            proof=proof,
            method=method,
            url=url,
            access_token=access_token,
            expected_jkt=token_jkt,
            now=now,
        )
    except DpopError as exc:
        raise dpop_refuse(exc, api_key=api_key, session_id=session_id) from None


def dpop_refresh_verify(
    *,
    proof: str | None,
    token_jkt: str | None,
    method: str,
    url: str,
    api_key: Any = None,
    session_id: Any = None,
    now: float | None = None,
) -> str | None:
    """The DPoP step of ``POST /api/v1/sessions/refresh``: return the jkt the new
    tokens keep (the refresh token's ``cnf.jkt``), or None for an unbound session.

    A bound refresh token needs a proof by the same key (no ``ath``: RFC 9449
    section 5), so a stolen refresh token cannot mint new tokens either.
    """
    if token_jkt is None:
        return None
    try:
        if not proof:
            raise DpopError("dpop_required", "proof_missing")
        return dpop_proof_verify(
            proof=proof, method=method, url=url, expected_jkt=token_jkt, now=now
        )
    except DpopError as exc:
        raise dpop_refuse(exc, api_key=api_key, session_id=session_id) from None
