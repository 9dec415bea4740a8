"""The gate: every security refusal of a protected request, in one place, in order.

A protected request is one routed to a view that declares an endpoint group
(``rate_limit_group``) or uses gatehouse's DRF classes. The gate runs the
steps of ``STEP_TABLE`` (below: which adapter runs each, what it refuses
with), in that order: a step can never run after a later one. The docs'
"one request" table is generated from it.

Cheap refusals come first, before any database work; ``count`` is the
request's one Redis round trip (every counter, the revocation marks, the
block-list version, the DPoP jti, and the counts reactions deferred). A
request refused before it counts has spent only its per-IP budget, which
``gate_finish`` counts on the way out (with the deferred counts: a refused
request costs one round trip too). The identity dimensions (``mailbox``,
``device``…: who the request says it is) count what succeeded: counted in
the same round trip with a conditional increment, they are taken back by
``gate_finish`` when the answer is not a success (status 400 or more), so
refused attempts never spend a victim's budget. Every refusal goes through
``protection.core.events.refuse`` (one event) and ends in a ``deny``
verdict naming its step; a request that passes gets ``allow`` (or
``observe``, when a limit in dry run would have refused it).

An endpoint adds its own body, counters and judgement with a ``GatePlan``
(``gate_plan`` on the view): ``signup`` declares its lookup and create
plans this way, so protection never imports it. The DRF classes and the
middleware are thin adapters over the functions below and keep DRF's
contracts.

Longer than the house's ~300 lines on purpose: every step, in order, in one
file is what this module is for.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from rest_framework.exceptions import APIException

from protection.attestation import attestation_replay_refusal, attestation_verify
from protection.base.clientip import rate_limit_ident
from protection.base.exceptions import ProtectionError
from protection.blocks import blocks_check, registry
from protection.blocks.ruleset import VERSION_CACHE_KEY
from protection.challenges import ChallengeEvidence, ChallengeOutcome, challenge_verify
from protection.core.events import (
    Refusal,
    event_scope_device,
    event_scope_device_subject,
    event_scope_network,
    refuse,
    refuse_with,
)
from protection.core.ratelimit import (
    IDENTITY_DIMENSIONS,
    CountedLimit,
    RateLimitResult,
    group_rates,
    observed_dimensions,
    rate_limit_reason,
    rate_limit_refusal,
    ratelimit_headers,
    request_limits_count,
)
from protection.core.ratelimit.deferred import deferred_pending
from protection.dpop import (
    DpopError,
    dpop_jti_claim,
    dpop_refuse,
    dpop_request_verify,
    dpop_session_start,
    dpop_www_authenticate,
)
from protection.http.context import Caller, RequestContext, request_context
from protection.http.memos import over_budget, revoked_sessions
from protection.http.plan import GatePlan
from protection.http.risk import (
    risk_evidence_shown,
    risk_finish,
    risk_judge,
    risk_reads,
    risk_refusal_explain,
)
from protection.keys import (
    KEYS_VERSION_KEY,
    api_key_query_refusal,
    api_key_recheck,
    api_key_require_scope,
    api_key_verify,
    keys_version,
    keys_version_reads,
)
from protection.keys.network_policy import network_policy_decide
from protection.logcontext import log_context_update
from protection.netintel import NETINTEL_VERSION_CACHE_KEY, netintel_classify
from protection.netintel import registry as netintel_registry
from protection.sessions import SessionClaims, session_state_check, session_token_verify
from protection.sessions.devices import device_block_values, device_claim_value
from protection.sessions.revocation import session_state_reads


class Step(NamedTuple):
    name: str
    run_by: str  # the adapter that runs it
    refuses: str  # what it refuses with


STEP_TABLE = (
    Step("ip_block", "the middleware", "403 `blocked` (the address, or its AS, country, class)"),
    Step("over_budget", "the middleware", "429 `rate_limited`, without reading the counters"),
    Step(
        "api_key",
        "the authentication class",
        "401 `api_key_*`; 403 `origin_not_allowed`, `api_key_in_query`",
    ),
    Step("api_key_block", "the authentication class", "403 `blocked`"),
    Step("token", "`SessionTokenAuthentication`", "401 `token_*`"),
    Step("dpop", "the authentication class", "401 `dpop_*` (its jti is claimed at `count`)"),
    Step("session_block", "`SessionTokenAuthentication`", "403 `blocked` (session, device)"),
    Step("scope", "`HasApiKeyScope`", "403 `scope_denied`"),
    Step("attestation", "`HasAppAttestation`", "403 `attestation_*`, 503 unavailable"),
    Step("network_policy", "the throttle", "403 `network_refused` (the network policy's `deny`)"),
    Step("body", "the throttle (the view's `gate_plan`)", "400; 403 `blocked` (claimed device)"),
    Step("count", "the throttle", "503 when a quota cannot be kept (one round trip)"),
    Step(
        "judge",
        "the throttle",
        "403 `blocked` (a new block), 401 `session_revoked` / `dpop_replayed`, 429",
    ),
    Step(
        "risk",
        "the throttle (views with a `risk_stage`)",
        "403 `risk_too_high` (the challenge ladder's `deny` tier)",
    ),
    Step("evidence", "the session view", "403 `challenge_failed`, `recaptcha_failed`…"),
)
STEPS = tuple(step.name for step in STEP_TABLE)
_INDEX = {name: index for index, name in enumerate(STEPS)}
BEARER_CHALLENGE = 'Bearer realm="gatehouse"'
API_KEY_CHALLENGE = 'ApiKey header="X-Api-Key"'


class _step:  # noqa: N801 - used as ``with _step(...)``, like a function
    """Run step ``name`` of the gate: after every earlier step, never twice.

    ``challenge``: the ``WWW-Authenticate`` a 401 of this step names (RFC 9110).
    A class, not ``contextlib.contextmanager``: a dozen steps run per request,
    and a generator-based context manager costs four calls more each.
    """

    __slots__ = ("context", "name", "challenge")

    def __init__(self, context: RequestContext, name: str, *, challenge: str = "") -> None:
        self.context, self.name, self.challenge = context, name, challenge

    def __enter__(self) -> None:
        index = _INDEX[self.name]
        if index <= self.context.step:
            raise RuntimeError(f"gate step {self.name!r} after {STEPS[self.context.step]!r}")
        self.context.step = index

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> Literal[False]:
        context = self.context
        if isinstance(error, ProtectionError):
            if self.challenge and error.status == 401:
                error.headers.setdefault("WWW-Authenticate", self.challenge)
            context.signals.add(error.code)
            context.verdict = context.signals.verdict("deny", step=self.name)
        elif isinstance(error, APIException):
            codes = error.get_codes()
            context.signals.add(codes if isinstance(codes, str) else "invalid_request")
            context.verdict = context.signals.verdict("deny", step=self.name)
        return False  # the error goes on


def _ip_ident(context: RequestContext) -> str:
    return rate_limit_ident(context.client_ip)


# --- the middleware: ip_block, over_budget -------------------------------------


def gate_edge(context: RequestContext, *, group: str, ip_blocks: bool) -> None:
    """Steps ip_block and over_budget, before DRF runs: no I/O.

    ``group``: the view's endpoint group ("" for none); its per-IP limits are
    left pending, to be counted in the request's one round trip (a request
    refused before it, even by a block, still spends them on the way out).
    """
    if group:
        context.group = context.limits.group = group
        rates = group_rates(group).get("ip") or []
        context.limits.add(dimension="ip", ident=_ip_ident(context), rates=rates)
    with _step(context, "ip_block"):
        # Where the client comes from: offline data, no I/O (protection.netintel).
        context.origin = netintel_classify(context.client_ip)
        if not context.origin.unknown:
            event_scope_network(context.origin.as_details())
        if ip_blocks:
            blocks_check(ip=context.client_ip, origin=context.origin)
    if not group:
        return
    with _step(context, "over_budget"):
        wait = over_budget.seconds_left(group, _ip_ident(context))
        if wait is not None:
            # The RateLimit fields are added on the way out, once counted.
            raise refuse(
                "rate_limited",
                kind="rate_limited",
                reason=rate_limit_reason(group, ["ip"]),
                headers={"Retry-After": str(wait)},
                details={"group": group, "dimensions": ["ip"]},
            )


def gate_finish(
    context: RequestContext, *, refused_by_block: bool, status: int
) -> ProtectionError | None:
    """On the way out: count what the request left pending (its per-IP budget, when
    it was refused before its round trip) and the counts reactions deferred,
    and, when the answer ``status`` is not a success (400 or more, or a view
    said so: ``context.succeeded``), take back what its identity dimensions
    counted: one round trip, none when there is nothing to do. Returns the
    429 to answer instead if that crossed a limit (a block stays a 403)."""
    risk_finish(context, status=status)
    failed = status >= 400 or not context.succeeded
    refunds = context.limits.refunds_take() if failed else []
    if not context.limits.pending and not deferred_pending() and not refunds:
        return None
    already = len(context.limits.counted)
    counted = request_limits_count(context.limits, refunds=refunds)
    _remember_over_budget(context, context.limits.counted[already:])
    error = rate_limit_refusal(counted.group)
    if error is None or refused_by_block or context.step == _INDEX["over_budget"]:
        return None
    return refuse(
        error,
        kind="rate_limited",
        reason=rate_limit_reason(context.group, ["ip"]),
        api_key=context.api_key,
        details={"group": context.group, "dimensions": ["ip"]},
    )


def _remember_over_budget(context: RequestContext, counted: Sequence[CountedLimit]) -> None:
    refused = [item for item in counted if item.dimension == "ip" and not item.result.allowed]
    if refused and context.group:
        wait = max(item.result.reset_after for item in refused)
        over_budget.remember(context.group, _ip_ident(context), wait)


# --- the authentication classes: api_key … session_block ------------------------


def gate_caller(request: Any, *, session: bool, dpop_binds_session: bool = False) -> Caller:
    """Steps api_key and api_key_block; with ``session``, token, dpop and
    session_block too. ``dpop_binds_session``: the session-start endpoint,
    where a DPoP proof (required by some keys) names the key to bind to."""
    context = request_context(request)
    meta = request.META
    with _step(context, "api_key", challenge=API_KEY_CHALLENGE):
        api_key_query_refusal(meta.get("QUERY_STRING", ""))
        context.key_generation = keys_version.generation
        api_key = api_key_verify(
            raw_key=meta.get("HTTP_X_API_KEY", ""), origin=meta.get("HTTP_ORIGIN")
        )
    context.api_key = api_key
    log_context_update(api_key=api_key)
    with _step(context, "api_key_block"):
        blocks_check(api_key=api_key)
    if session:
        _session_steps(context, meta)
    elif dpop_binds_session:
        with _step(context, "dpop"):
            proof = dpop_session_start(
                proof=meta.get("HTTP_DPOP"),
                method=context.method,
                url=context.path,
                required="dpop" in (api_key.required_verifications or ()),
                api_key=api_key,
            )
            if proof is not None:
                context.dpop_jkt, context.dpop_claim = proof.jkt, dpop_jti_claim(proof)
    return Caller(api_key=api_key, session=context.session, client_ip=context.client_ip)


def _session_steps(context: RequestContext, meta: Any) -> None:
    assert context.api_key is not None
    scheme, _, raw_token = meta.get("HTTP_AUTHORIZATION", "").partition(" ")
    raw_token = raw_token.strip() if scheme.lower() in ("bearer", "dpop") else ""
    with _step(context, "token", challenge=BEARER_CHALLENGE):
        claims = session_token_verify(
            raw_token=raw_token, api_key=context.api_key, client_ip=context.client_ip
        )
        if revoked_sessions.known(claims.id):
            raise refuse(
                "session_revoked",
                kind="token_auth",
                api_key=context.api_key,
                details={"token_type": "access"},
            )
    context.session = claims
    log_context_update(session_id=claims.id)
    with _step(context, "dpop"):
        # RFC 9449: a DPoP-bound token needs the DPoP scheme and a fresh proof
        # by its key; sent as Bearer (a stolen copy) it fails.
        proof = dpop_request_verify(
            scheme=scheme,
            access_token=raw_token,
            token_jkt=claims.jkt,
            proof=meta.get("HTTP_DPOP"),
            method=context.method,
            url=context.path,
            api_key=context.api_key,
            session_id=claims.id,
        )
        if proof is not None:
            context.dpop_jkt, context.dpop_claim = proof.jkt, dpop_jti_claim(proof)
    with _step(context, "session_block"):
        blocks_check(session=claims)  # the session's device too
        if claims.device_id and not claims.device_verified:
            # Its claimed device: also the blocks scoped to this key and claim.
            blocks_check(
                device_id=device_claim_value(
                    api_key_public_id=context.api_key.public_id, device_id=claims.device_id
                )
            )
    if not context.group:
        # No round trip will follow (a view without an endpoint group): the
        # session's state and the proof's jti are settled now.
        _settle_without_round_trip(context)


def _settle_without_round_trip(context: RequestContext) -> None:
    counted = request_limits_count(
        None,
        claims=[context.dpop_claim] if context.dpop_claim else [],
        reads=[
            *keys_version_reads(),
            *(session_state_reads(context.session.id) if context.session else []),
        ],
    )
    try:
        _judge_key(context, counted.values)
        _judge_session_and_proof(context, counted.values, counted.claims)
    except ProtectionError as error:
        if error.status == 401:
            error.headers.setdefault("WWW-Authenticate", BEARER_CHALLENGE)
        raise


# --- the permission classes: scope, attestation ---------------------------------


def gate_scope(request: Any, scope: str) -> None:
    """Step scope: the key may call an endpoint that requires ``scope``."""
    context = request_context(request)
    with _step(context, "scope"):
        if context.api_key is None:
            raise ProtectionError("api_key_missing")
        api_key_require_scope(context.api_key, scope)


def gate_attestation(request: Any, *, purpose: str) -> None:
    """Step attestation: the app attestation evidence the key requires (and any
    evidence present, required or not: invalid evidence always fails)."""
    context = request_context(request)
    with _step(context, "attestation"):
        if context.api_key is None:
            raise ProtectionError("api_key_missing")
        # The request's method and path, for evidence signed over them (App
        # Attest assertions): an assertion cannot be replayed elsewhere.
        evidence = {**request.headers, ":method": context.method, ":path": context.path}
        context.attested = attestation_verify(
            api_key=context.api_key,
            evidence=evidence,
            purpose=purpose,  # type: ignore[arg-type]
            client_ip=context.client_ip,
            session_id=getattr(context.session, "id", None),
        )
        if context.attested.device_id:
            # Verified: checked against its id alone, and the request's later
            # denials name it (device rules count only verified devices).
            blocks_check(device_id=context.attested.device_id)
            event_scope_device(context.attested.device_id)


# --- the throttle: body, count, judge -------------------------------------------


@dataclass(frozen=True)
class Throttled:
    """A 429 the throttle answers through DRF's contract (False, then ``wait()``)."""

    wait: float
    headers: dict[str, str]


def gate_count(request: Any, view: Any) -> Throttled | None:
    """Steps body, count and judge for a view with an endpoint group.

    Returns None when the request may go on, ``Throttled`` for a 429; raises
    any other refusal.
    """
    context = request_context(request)
    group = getattr(view, "rate_limit_group", "") or ""
    plan: GatePlan | None = getattr(view, "gate_plan", None)
    caller = context.caller  # None on an open view (no key): only its IP counts
    with _step(context, "network_policy"):
        _network_policy(context)
    with _step(context, "body"):
        if plan is not None:
            context.body = plan.parse(request, caller)
            claimed_device = getattr(context.body, "device_id", "")
            # A verified device (attestation step) wins over the one claimed.
            if claimed_device and context.api_key is not None and not context.attested.device_id:
                for value in device_block_values(
                    device_id=claimed_device,
                    verified=False,
                    api_key_public_id=context.api_key.public_id,
                ):
                    blocks_check(device_id=value)
    context.group = context.limits.group = group
    _add_group_limits(context, plan, caller)
    extra = list(plan.hits(context.body, caller)) if plan is not None and plan.hits else []
    reads = [VERSION_CACHE_KEY, NETINTEL_VERSION_CACHE_KEY, *keys_version_reads()]
    if context.session is not None:
        reads += session_state_reads(context.session.id)
    device = _device_ident(context)
    event_scope_device_subject(device)  # the request's denials count for its device too
    risk_stage = getattr(view, "risk_stage", "") if caller is not None else ""
    if risk_stage:
        reads += risk_reads(context, stage=risk_stage, device=device)
    # The DPoP proof's jti, then single-use attestation evidence (session start).
    attested_claims = list(context.attested.claims)
    claims = [context.dpop_claim] if context.dpop_claim else []
    with _step(context, "count", challenge=BEARER_CHALLENGE):
        try:
            counted = request_limits_count(
                context.limits,
                extra=extra,
                claims=[*claims, *(claim for _, claim in attested_claims)],
                reads=reads,
            )
        except ProtectionError:  # 503: a quota cannot be kept without the cache
            if context.session is not None:
                # Still judge the session from the database: a revoked session
                # is 401, not "come back later".
                _session_state(context.session, {})
            raise
    context.plan_results = tuple(counted.extra)
    with _step(context, "judge", challenge=BEARER_CHALLENGE):
        _judge_key(context, counted.values)
        netintel_registry.observe(counted.values.get(NETINTEL_VERSION_CACHE_KEY))
        if registry.observe(counted.values.get(VERSION_CACHE_KEY)):
            # A block made since this process loaded the list applies at once.
            blocks_check(
                ip=context.client_ip,
                origin=context.origin,
                api_key=context.api_key,
                session=context.session,
                device_id=context.attested.device_id
                or getattr(context.body, "device_id", "")
                or "",
            )
        _judge_session_and_proof(context, counted.values, counted.claims[: len(claims)])
        _judge_attestation_replay(context, attested_claims, counted.claims[len(claims) :])
        _remember_over_budget(context, counted.group)
        throttled = _judge_group_limits(context, counted.group)
        if throttled is None and plan is not None and plan.judge is not None:
            throttled = _judge_plan(context, plan.judge(context.body, caller, counted.extra))
    if throttled is None and risk_stage:
        with _step(context, "risk"):
            risk_judge(request, context, stage=risk_stage, values=counted.values, device=device)
    if throttled is None:
        context.verdict = context.signals.verdict()
    return throttled


def _network_policy(context: RequestContext) -> None:
    """The network policy (global, or the key's own) for the client's network class."""
    if context.api_key is None:
        return
    decision = network_policy_decide(origin=context.origin, api_key=context.api_key)
    context.network_decision = decision
    if decision.network_class:
        context.signals.add(f"network:{decision.network_class}")
    if decision.refused:
        raise refuse(
            "network_refused",
            kind="network_refused",
            reason=decision.network_class,
            api_key=context.api_key,
            session_id=getattr(context.session, "id", None),
            details={"policy": decision.as_details()},
        )


def _add_group_limits(context: RequestContext, plan: GatePlan | None, caller: Any) -> None:
    """The key's, the session's and the client's network's limits of the group
    (and the IP's, when no middleware left them pending), then its identity
    dimensions: the plan's (from the body) and the device. Identity
    dimensions count on success only."""
    asn = context.origin.asn
    idents = {
        "ip": _ip_ident(context),
        "key": getattr(context.api_key, "public_id", None),
        "session": str(context.session.id) if context.session is not None else None,
        "asn": str(asn) if asn is not None and not context.origin.unknown else None,
    }
    rates = group_rates(context.group, api_key=context.api_key)
    counted = {item.dimension for item in context.limits.counted}
    for dimension, dimension_rates in rates.items():
        ident = idents.get(dimension)
        if ident is not None and dimension not in counted:
            context.limits.add(dimension=dimension, ident=ident, rates=dimension_rates)
    wanted = [dimension for dimension in IDENTITY_DIMENSIONS if rates.get(dimension)]
    if not wanted:  # (the plan's identities cost digests: only when limited)
        return
    identities = dict(plan.identities(context.body, caller)) if plan and plan.identities else {}
    identities["device"] = _device_ident(context) or ""
    for dimension in wanted:
        if identities.get(dimension):
            context.limits.add(
                dimension=dimension, ident=identities[dimension], rates=rates[dimension],
                on_success=True,
            )  # fmt: skip


def _device_ident(context: RequestContext) -> str | None:
    """The device the request comes from, as the ``device`` dimension counts it.

    Verified ids count globally: the attestation's device id, else the DPoP
    key's thumbprint (a key only its holder can prove). A claimed id (the
    session's device, from its token; at session start the body's) counts
    per API key and is marked as claimed, so whoever claims another's id
    spends only a budget of their own key's, never a verified device's. A
    session whose token says its device was verified (``device_verified``)
    counts as that verified device.
    """
    if context.attested.device_id:
        return "verified:" + context.attested.device_id
    if context.dpop_jkt:
        return "dpop:" + context.dpop_jkt
    session = context.session
    device = session.device_id if session is not None else getattr(context.body, "device_id", "")
    if not device or context.api_key is None:
        return None
    if getattr(session, "device_verified", False):
        return "verified:" + device
    return f"claimed:{context.api_key.public_id}:{device}"


def _judge_key(context: RequestContext, values: dict[str, bytes | None]) -> None:
    """A key changed (revoked, expired) since this request verified it: read it again."""
    keys_version.observe(values.get(KEYS_VERSION_KEY))
    if context.api_key is None or keys_version.generation == context.key_generation:
        return
    try:
        api_key_recheck(context.api_key)
    except ProtectionError as error:
        if error.status == 401:
            error.headers["WWW-Authenticate"] = API_KEY_CHALLENGE
        raise


def _judge_attestation_replay(
    context: RequestContext,
    attested: Sequence[tuple[str, Any]],
    results: Sequence[RateLimitResult],
) -> None:
    """Session-start evidence already spent (another session started with it): 403."""
    for (verifier, _claim), result in zip(attested, results, strict=False):
        if result.allowed:
            continue
        error = attestation_replay_refusal(
            verifier=verifier,
            api_key=context.api_key,
            client_ip=context.client_ip,
            device_id=context.attested.device_id,
        )
        if error is not None:
            raise error


def _judge_session_and_proof(
    context: RequestContext, values: dict[str, bytes | None], claims: Sequence[RateLimitResult]
) -> None:
    if context.session is not None:
        _session_state(context.session, values)
        context.session_checked = True
    if context.dpop_claim is not None and claims and not claims[0].allowed:
        raise dpop_refuse(
            DpopError("dpop_replayed", "jti_replayed"),
            api_key=context.api_key,
            session_id=getattr(context.session, "id", None),
        )


def _session_state(session: SessionClaims, values: dict[str, bytes | None]) -> None:
    reads = session_state_reads(session.id)
    # Without a shared cache (nothing read), or when it failed, the database answers.
    try:
        session_state_check(
            claims=session, values={key: values.get(key) for key in reads} if reads else None
        )
    except ProtectionError as error:
        if error.code == "session_revoked":
            revoked_sessions.remember(session.id, session.expires_at.timestamp())
        raise


def _judge_group_limits(
    context: RequestContext, counted: Sequence[CountedLimit]
) -> Throttled | None:
    observed = observed_dimensions(context.group)
    refused = sorted({item.dimension for item in counted if not item.result.allowed})
    api_key, session_id = context.api_key, getattr(context.session, "id", None)
    dry_run = [dimension for dimension in refused if dimension in observed]
    if dry_run:
        refuse(
            "rate_limited",
            kind="rate_limited",
            reason=rate_limit_reason(context.group, dry_run),
            observe=True,
            details={"group": context.group, "dimensions": dry_run},
            api_key=api_key,
            session_id=session_id,
        )
        context.signals.observe(rate_limit_reason(context.group, dry_run))
    error = rate_limit_refusal([item for item in counted if item.dimension not in observed])
    if error is None:
        return None
    enforced = [dimension for dimension in refused if dimension not in observed]
    refuse(
        error,
        kind="rate_limited",
        reason=rate_limit_reason(context.group, enforced),
        details={"group": context.group, "dimensions": enforced},
        api_key=api_key,
        session_id=session_id,
    )
    return _throttled(context, error)


def _judge_plan(context: RequestContext, refusal: Refusal | None) -> Throttled | None:
    if refusal is None:
        return None
    error = refuse_with(
        refusal, api_key=context.api_key, session_id=getattr(context.session, "id", None)
    )
    if error is None:  # observed: the request goes on
        context.signals.observe(refusal.reason or refusal.error.code)
        return None
    if error.status != 429:
        context.signals.add(error.code)
        context.verdict = context.signals.verdict("deny", step="judge")
        raise error
    return _throttled(context, error)


def _throttled(context: RequestContext, error: ProtectionError) -> Throttled:
    context.signals.add(error.code)
    context.verdict = context.signals.verdict("deny", step="judge")
    headers = {**ratelimit_headers(context.limits.counted), **error.headers}
    return Throttled(wait=float(error.headers.get("Retry-After", 1)), headers=headers)


# --- the session view: evidence --------------------------------------------------


def gate_evidence(request: Any, *, evidence: ChallengeEvidence) -> ChallengeOutcome:
    """Step evidence (``POST /api/v1/sessions``): the proof of work, CAPTCHA and
    Private Access Token the key requires, checked after the round trip, so a
    flood of garbage proofs is refused by its limits before it costs a
    replay-store write. Returns what was shown (positive evidence included)."""
    context = request_context(request)
    step = context.risk.step if context.risk is not None else None
    with _step(context, "evidence"):
        if context.api_key is None:
            raise ProtectionError("api_key_missing")
        try:
            _network_checks(context, step.checks if step is not None else ())
            outcome = challenge_verify(
                api_key=context.api_key,
                client_ip=context.client_ip,
                evidence=evidence,
                required=step.evidence if step is not None else (),
                pow_level=step.pow_level if step is not None else 0,
            )
        except ProtectionError as error:
            risk_refusal_explain(context, error)  # what would be accepted
            raise
        risk_evidence_shown(context, outcome.shown)
        return outcome


def _network_checks(context: RequestContext, names: Sequence[str]) -> None:
    """The network policy's ``require:<evidence>`` for evidence the earlier steps
    verified (app attestation, DPoP): present, or refused."""
    details = {"policy": context.network_decision.as_details()}
    for name in names:
        if name == "dpop" and not context.dpop_jkt:
            raise refuse(
                "dpop_required",
                kind="dpop_required",
                reason="network_policy",
                headers={"WWW-Authenticate": dpop_www_authenticate()},
                api_key=context.api_key,
                details=details,
            )
        if name != "dpop" and name not in context.attested.verified:
            raise refuse(
                "attestation_required",
                kind="attestation_failed",
                reason=f"{name}_missing"[:64],
                extra={"verifier": name},
                api_key=context.api_key,
                details=details,
            )
