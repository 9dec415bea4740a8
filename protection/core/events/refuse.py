"""``refuse``: the one way a refusal is recorded and raised.

Every denial of every tier goes through here: one event (kind, reason,
details) and the error to raise. Observe mode ("dry run": a rate limit in
``RATE_LIMITS_OBSERVE``, a rule with ``dry_run``, a key's evidence in
``verifications_dry_run``) is decided here too: the same refusal becomes an
``alert`` with ``details.dry_run`` and nothing is raised, so the request
goes on and staff see what would have been refused.
"""

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple, overload

from protection.base.exceptions import ProtectionError
from protection.core.events.record import event_record


class Refusal(NamedTuple):
    """A refusal decided by a pure function (a plan's judge), recorded by ``refuse``."""

    error: ProtectionError
    kind: str
    reason: str = ""
    details: Mapping[str, Any] | None = None
    observe: bool = False


@overload
def refuse(
    error: str | ProtectionError,
    *,
    kind: str,
    reason: str = "",
    observe: Literal[False] = False,
    details: Mapping[str, Any] | None = None,
    api_key: Any = None,
    session_id: Any = None,
    client_ip: str | None = None,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> ProtectionError: ...


@overload
def refuse(
    error: str | ProtectionError,
    *,
    kind: str,
    reason: str = "",
    observe: bool,
    details: Mapping[str, Any] | None = None,
    api_key: Any = None,
    session_id: Any = None,
    client_ip: str | None = None,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> ProtectionError | None: ...


def refuse(
    error: str | ProtectionError,
    *,
    kind: str,
    reason: str = "",
    observe: bool = False,
    details: Mapping[str, Any] | None = None,
    api_key: Any = None,
    session_id: Any = None,
    client_ip: str | None = None,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> ProtectionError | None:
    """Record a refusal and return the error to raise (an error code or a built error).

    ``reason`` defaults to the error code. With ``observe`` the refusal is
    recorded as an alert with ``details.dry_run`` and None is returned: the
    caller lets the request through.
    """
    if isinstance(error, str):
        error = ProtectionError(error, detail, headers=headers, extra=extra)
    event_details = dict(details or {})
    if observe:
        event_details["dry_run"] = True
    event_record(
        kind=kind,
        decision="alert" if observe else "deny",
        reason=(reason or error.code)[:64],
        api_key=api_key,
        session_id=session_id,
        client_ip=client_ip,
        details=event_details,
    )
    return None if observe else error


def refuse_with(refusal: Refusal, **who: Any) -> ProtectionError | None:
    """``refuse`` for a ``Refusal`` value; ``who`` names the key, session, client."""
    return refuse(
        refusal.error,
        kind=refusal.kind,
        reason=refusal.reason,
        observe=refusal.observe,
        details=refusal.details,
        **who,
    )
