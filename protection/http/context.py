"""What the HTTP edge learned about one request: one typed object, one owner.

``request_context(request)`` returns the request's ``RequestContext``, made
on first use (the client IP resolved once, from ``REMOTE_ADDR`` and trusted
proxies only). The gate (``protection.http.gate``) fills it step by step;
the middleware, the DRF adapters and the views read it through this module;
nothing else stores state on the request.

Host code reads the gate's decision with ``verdict(request)``: a
``protection.core.verdict.Verdict`` (action, risk 0-100, reasons), or None
before the gate has judged the request.
"""

from dataclasses import dataclass, field
from typing import Any

from protection.attestation import AttestationResult
from protection.base.clientip import client_ip_resolve
from protection.core.ratelimit import Claim, RateLimitResult, RequestLimits
from protection.core.verdict import RiskSignals, Verdict
from protection.keys import ApiKey
from protection.keys.network_policy import ALLOWED, NetworkDecision
from protection.netintel import UNKNOWN_ORIGIN, NetworkOrigin
from protection.policy.ladder import LadderStep
from protection.sessions import SessionClaims

_ATTRIBUTE = "_gatehouse_context"


@dataclass
class RiskState:
    """What the challenge ladder decided for one request (``protection.http.risk``).

    ``stage``: "challenge" or "session"; ``step``: what the client must show;
    ``points``: the inputs that weighed; ``details``: what the request's
    events carry as ``details["risk"]`` (the evidence shown is added to it
    once verified). The counts read in the round trip are kept for the
    proof-of-work difficulty.
    """

    stage: str
    step: LadderStep
    points: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    ip_denials: int = 0
    key_denials: int = 0
    key_boost: int = 0


@dataclass(frozen=True)
class Caller:
    """What is calling (the API key) and, on session endpoints, who (the
    session), from where (the client IP)."""

    api_key: ApiKey
    session: SessionClaims | None = None
    client_ip: str = ""


@dataclass
class RequestContext:
    client_ip: str
    path: str = ""
    method: str = ""
    # The view's endpoint group ("lookup", "session", …; "" for unprotected
    # views), known to the middleware before DRF runs.
    group: str = ""
    # Where the client comes from (AS, country, network class; offline data)
    # and what the network policy says of it.
    origin: NetworkOrigin = UNKNOWN_ORIGIN
    network_decision: NetworkDecision = ALLOWED
    api_key: ApiKey | None = None
    # keys_version.generation when the key was verified: if the round trip
    # finds the keys changed since, the key is read again (a revocation applies).
    key_generation: int = -1
    session: SessionClaims | None = None
    # The last gate step this request passed (its index in gate.STEPS).
    step: int = -1
    # Set by the DPoP step: the key the tokens are (or will be) bound to, and
    # the proof's jti, claimed in the request's one round trip.
    dpop_jkt: str | None = None
    dpop_claim: Claim | None = None
    attested: AttestationResult = field(default_factory=AttestationResult)
    # The body as the endpoint's plan parsed it (set by the body step).
    body: Any = None
    # What the plan's own counters counted in the round trip (``GatePlan.hits``,
    # in order; may stop at the first refusal), for a view whose answer
    # depends on them without refusing (a resend cooldown, a notice's day).
    plan_results: tuple[RateLimitResult, ...] = ()
    limits: RequestLimits = field(default_factory=RequestLimits)
    # Set False by a view whose answer is a success that changed nothing (a
    # replayed Idempotency-Key answer): what the identity dimensions counted
    # is given back on the way out, as for a failure.
    succeeded: bool = True
    # True once the count step has read the session's revocation state.
    session_checked: bool = False
    signals: RiskSignals = field(default_factory=RiskSignals)
    verdict: Verdict | None = None
    # The challenge ladder's decision (protection.http.risk), on the views that
    # declare a risk stage (challenge issuance, session start).
    risk: RiskState | None = None
    # Keys the admin created in this request, shown once on its response.
    new_api_keys: list[tuple[ApiKey, str]] = field(default_factory=list)

    @property
    def caller(self) -> Caller | None:
        if self.api_key is None:
            return None
        return Caller(api_key=self.api_key, session=self.session, client_ip=self.client_ip)


def request_context(request: Any) -> RequestContext:
    """The request's context (a DRF ``Request`` or Django ``HttpRequest``)."""
    http_request = getattr(request, "_request", request)
    context = http_request.__dict__.get(_ATTRIBUTE)
    if context is None:
        meta = http_request.META
        context = RequestContext(
            client_ip=client_ip_resolve(
                remote_addr=meta.get("REMOTE_ADDR", ""),
                forwarded_for=meta.get("HTTP_X_FORWARDED_FOR", ""),
            ),
            path=http_request.path_info,
            method=http_request.method or "",
        )
        setattr(http_request, _ATTRIBUTE, context)
    return context


def client_ip(request: Any) -> str:
    """The client's IP address for this request (resolved once)."""
    return request_context(request).client_ip


def verdict(request: Any) -> Verdict | None:
    """The gate's verdict on this request, once it has judged it (else None)."""
    return request_context(request).verdict
