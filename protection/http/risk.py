"""The gate's risk step: a client's risk tier, and what the challenge ladder asks of it.

Views that issue challenges and start sessions declare a ``risk_stage``
("challenge", "session"). For them the gate reads, in the request's one
round trip, the recent denials of the client IP (IPv6 by /64), of the key
and of the device, the key's difficulty boost and how many sessions the
request's DPoP key started (``risk_reads``); after its judgement,
``risk_judge`` weighs what it knows (``protection.policy.risk``), adds the
weights to the verdict's signals, maps the verdict's risk to a tier and asks
the ladder what that tier needs (``protection.policy.ladder``). A ``deny``
tier is 403 ``risk_too_high`` (a ``risk_refused`` event); a ladder in dry
run records a ``challenge_ladder`` alert at session start instead.

The two stages agree for one client: the challenge is signed with the tier
it was issued at, and session start asks for the higher of that tier and its
own (the payload's claim can only raise it), so a client is never asked for
less than its challenge said, and for more only when its risk rose. The
proof of work's level at session start follows only the inputs a challenge
request shows too (``SESSION_ONLY_RAISERS`` do not count for it): else a
device's history would make every new challenge too easy, forever. Positive
evidence shown only at session start (attestation, a DPoP key with a clean
history) lowers the session's own risk. The tier is the risk's without a
Private Access Token: a valid one (offline-checked here, at either stage;
redeemed at the evidence step) replaces what that tier adds, and its weight
decides whether it lifts a ``deny`` (``ladder_step``).

From then on every event of the request carries ``details["risk"]`` (tier,
score, the evidence asked; the evidence shown once it passed);
``risk_finish`` counts the outcome per tier (metrics, never an address) and
remembers a DPoP key that started a session.
"""

from typing import Any

from protection.base.clientip import ip_in_networks
from protection.base.exceptions import ProtectionError
from protection.challenges import (
    challenge_issue,
    pat_authorization_token,
    pat_challenges_issue,
    pow_difficulty,
    pow_payload_claims,
)
from protection.challenges.pat import PatRefused, pat_token_verify
from protection.challenges.patissuers import pat_issuers
from protection.conf import gatehouse_settings
from protection.core.events import event_record, event_scope_risk, refuse
from protection.core.metrics import metrics_ladder
from protection.core.reputation import (
    count_value,
    denial_reads,
    denials_from,
    dpop_seen_key,
    dpop_seen_tally,
    key_boost_key,
)
from protection.http.context import RequestContext, RiskState
from protection.keys.network_policy import ALLOW
from protection.policy.ladder import LadderStep, ladder_step
from protection.policy.risk import RiskInputs, risk_points, risk_score, risk_tier, tier_max

STAGES = ("challenge", "session")
# The per-client limits whose near exhaustion is velocity (shared budgets,
# key and asn, and domains or prefixes of many people, are not one client's).
VELOCITY_DIMENSIONS = ("ip", "session", "device", "mailbox")
VELOCITY_SHARE = 0.8
# Inputs only a session start shows that raise the risk (its device, its
# session budgets, its attestation): they never raise the proof of work's level.
SESSION_ONLY_RAISERS = ("device_denials", "velocity", "attestation_missing")
# Attestation verifications a session start may show.
_ATTESTATION = ("approov", "app_check", "app_attest")


def risk_reads(context: RequestContext, *, stage: str, device: str | None) -> list[str]:
    """The cache keys ``risk_judge`` needs, to read in the request's round trip."""
    if stage not in STAGES:
        raise ValueError(f"unknown risk stage {stage!r}")
    keys = denial_reads(client_ip=context.client_ip, api_key=context.api_key, device=device)
    reads = [key for pair in keys.values() for key in pair]
    reads.append(key_boost_key(context.api_key))
    if stage == "session" and context.dpop_jkt:
        reads.append(dpop_seen_key(context.dpop_jkt))
    return reads


def _velocity(context: RequestContext) -> bool:
    for item in context.limits.counted:
        result = item.result
        if item.dimension in VELOCITY_DIMENSIONS and result.limit > 0:
            # A client's first request in a window is never velocity.
            if result.count >= max(2, VELOCITY_SHARE * result.limit):
                return True
    return False


def _pat_valid(request: Any) -> bool:
    """A Private Access Token whose signature verifies (redeemed at the evidence step)."""
    token = pat_authorization_token(request.META.get("HTTP_AUTHORIZATION"))
    if not token:
        return False
    try:
        pat_token_verify(token)
    except PatRefused:
        return False
    return True


def _inputs(
    request: Any, context: RequestContext, *, stage: str, values: dict, device: str | None
) -> tuple[RiskInputs, dict[str, int]]:
    keys = denial_reads(client_ip=context.client_ip, api_key=context.api_key, device=device)
    counts = {name: denials_from(pair, values) for name, pair in keys.items()}
    counts["boost"] = count_value(values.get(key_boost_key(context.api_key)))
    decision = context.network_decision
    # A class the policy allows explicitly (the key's, or the global one) weighs nothing.
    explicit_allow = decision.action == ALLOW and bool(decision.source)
    exempt = ip_in_networks(context.client_ip, gatehouse_settings.POW_ESCALATION_EXEMPT_NETWORKS)
    inputs: dict[str, Any] = {
        "network_class": "" if explicit_allow else decision.network_class,
        "ip_denials": 0 if exempt else counts.get("ip", 0),
        "device_denials": 0 if exempt else counts.get("device", 0),
        "key_pressure": counts.get("key", 0) >= int(gatehouse_settings.POW_DENIALS_PER_DOUBLING_KEY)
        or counts["boost"] > 0,
        "velocity": _velocity(context),
        # Shown with a challenge request too, it gets the lighter challenge
        # (which then asks for the token at session start, where it is redeemed).
        "pat": _pat_valid(request),
    }
    if stage == "session":
        api_key = context.api_key
        assert api_key is not None
        required = {name for name in (api_key.required_verifications or ()) if name in _ATTESTATION}
        verified = set(context.attested.verified)
        seen = count_value(values.get(dpop_seen_key(context.dpop_jkt))) if context.dpop_jkt else 0
        inputs.update(
            attestation_missing=bool(required - verified),
            attested=bool(verified),
            dpop_returning=seen > 0 and counts.get("device", 0) == 0,
        )
    return RiskInputs(**inputs), counts


def _signal_reason(name: str) -> str:
    return "network:" + name.removeprefix("network_") if name.startswith("network_") else name


def risk_judge(
    request: Any, context: RequestContext, *, stage: str, values: dict, device: str | None
) -> LadderStep:
    """Weigh the request's risk, decide its tier and what the ladder asks (set on
    ``context.risk``); raise 403 ``risk_too_high`` when the tier says deny."""
    assert context.api_key is not None
    inputs, counts = _inputs(request, context, stage=stage, values=values, device=device)
    points = risk_points(inputs)
    for name, weight in points.items():
        context.signals.weigh(_signal_reason(name), weight)
    # The tier is the risk's without a Private Access Token: a valid token
    # replaces what that tier adds (ladder_step), its weight only decides
    # whether it lifts a deny.
    without_pat = {name: weight for name, weight in points.items() if name != "pat"}
    risk = risk_score(without_pat)
    tier = pow_tier = risk_tier(risk)
    claimed = ""
    if stage == "session":
        # The tier its challenge was issued at: never asked for less (a claim
        # only raises; it is signed, and checked whenever pow is required).
        claimed = pow_payload_claims(getattr(context.body, "altcha", ""))["tier"]
        # The proof of work's level follows only what the challenge request
        # could see too: raised by what only a session start shows, a new
        # challenge would be as easy, and the client would never get in.
        seen_by_both = {k: v for k, v in without_pat.items() if k not in SESSION_ONLY_RAISERS}
        pow_tier = tier_max(risk_tier(risk_score(seen_by_both)), claimed)
        tier = tier_max(tier, claimed)
    step = ladder_step(
        api_key=context.api_key,
        tier=tier,
        risk=risk,
        network=context.network_decision,
        pat_tier=risk_tier(risk_score(points)) if inputs.pat else None,
        pow_tier=pow_tier,
    )
    details: dict[str, Any] = {"stage": stage, **step.as_details()}
    if claimed:
        details["challenge_tier"] = claimed
    context.risk = RiskState(
        stage=stage,
        step=step,
        points=points,
        details=details,
        ip_denials=counts.get("ip", 0),
        key_denials=counts.get("key", 0),
        key_boost=counts["boost"],
    )
    event_scope_risk(details)
    if step.denied:
        raise refuse(
            _too_high(context, inputs, tier=tier, pow_tier=pow_tier),
            kind="risk_refused",
            reason=tier,
            api_key=context.api_key,
            session_id=getattr(context.session, "id", None),
            details={"stage": stage, "points": points},
        )
    if stage == "session" and step.dry_run and (step.would_deny or _adds(step)):
        event_record(
            kind="challenge_ladder",
            decision="alert",
            reason=tier,
            api_key=context.api_key,
            details={"dry_run": True, "points": points},
        )
    return step


def _too_high(context: RequestContext, inputs: RiskInputs, *, tier: str, pow_tier: str) -> Any:
    """The 403 ``risk_too_high``; with a Private Access Token challenge (and
    ``requires_with_pat``) when a valid token's weight would let the client in."""
    error = ProtectionError("risk_too_high")
    if inputs.pat or not pat_issuers():
        return error
    # From the signals' sum, not the clamped risk: one far beyond 100 stays refused.
    with_pat = risk_score({**context.signals.weights, **risk_points(RiskInputs(pat=True))})
    step = ladder_step(
        api_key=context.api_key,
        tier=tier,
        risk=with_pat,
        network=context.network_decision,
        pat_tier=risk_tier(with_pat),
        pow_tier=pow_tier,
    )
    if step.denied:
        return error
    try:
        error.headers["WWW-Authenticate"] = pat_challenges_issue()
    except ProtectionError:
        return error
    error.extra["requires_with_pat"] = list(step.requires)
    return error


def _adds(step: LadderStep) -> bool:
    """Whether a ladder in dry run would have asked for more than was asked."""
    return bool(set(step.would_ask) - set(step.requires)) or (step.would_pow_level > step.pow_level)


# --- what the views answer ----------------------------------------------------------


def risk_pat_offer(context: RequestContext) -> dict[str, str]:
    """``{"WWW-Authenticate": "PrivateToken challenge=…"}`` when a Private Access
    Token would lower what this client is asked and issuers are configured
    (best effort: nothing when challenges cannot be issued now)."""
    if context.risk is None or not context.risk.step.pat_would_lower or not pat_issuers():
        return {}
    try:
        return {"WWW-Authenticate": pat_challenges_issue()}
    except ProtectionError:
        return {}


def risk_challenge_issue(context: RequestContext) -> tuple[dict[str, Any], dict[str, str]]:
    """The challenge response's body for the request's client, and its extra headers
    (a Private Access Token challenge, when one would lower the step)."""
    api_key = context.api_key
    state = context.risk
    if state is None:  # a view without a risk stage: the key's floor
        body = challenge_issue(api_key=api_key, client_ip=context.client_ip)
        return {**body, "requires_with_pat": None}, {}
    step = state.step
    difficulty = pow_difficulty(
        client_ip=context.client_ip,
        api_key=api_key,
        ip_denials=state.ip_denials,
        key_denials=state.key_denials,
        key_boost=state.key_boost,
    )
    body = challenge_issue(
        api_key=api_key,
        client_ip=context.client_ip,
        required=step.evidence,
        pow_level=step.pow_level,
        tier=step.tier,
        difficulty=difficulty,
    )
    body["requires"] = list(step.requires)
    headers = risk_pat_offer(context)
    body["requires_with_pat"] = list(step.requires_with_pat) if headers else None
    return body, headers


def risk_refusal_explain(context: RequestContext, error: ProtectionError) -> None:
    """Say in a session start's refusal what would be accepted: ``requires`` (and
    ``requires_with_pat`` with a ``WWW-Authenticate: PrivateToken`` challenge,
    when a token would lower the step)."""
    if context.risk is None:
        return
    step = context.risk.step
    error.extra.setdefault("requires", list(step.requires))
    if "WWW-Authenticate" not in error.headers:
        error.headers.update(risk_pat_offer(context))
    if step.pat_would_lower and "PrivateToken" in error.headers.get("WWW-Authenticate", ""):
        error.extra.setdefault("requires_with_pat", list(step.requires_with_pat))


def risk_evidence_shown(context: RequestContext, shown: Any) -> None:
    """Note the evidence a session start showed (later events carry it)."""
    if context.risk is not None:
        context.risk.details["shown"] = sorted(shown)


def risk_finish(context: RequestContext, *, status: int) -> None:
    """On the way out: count the request per tier and outcome; remember the DPoP
    key of a session that was started (with the way out's round trip)."""
    state = context.risk
    if state is None:
        return
    issued = status < 400 and context.succeeded
    metrics_ladder(stage=state.stage, tier=state.step.tier, issued=issued)
    if issued and state.stage == "session" and context.dpop_jkt:
        dpop_seen_tally(context.dpop_jkt)
