"""``challenge_verify``: check the evidence a session start requires, each accepted once.

The order keeps garbage cheap and spends nothing before the client could
have succeeded:

1. a Private Access Token: missing while required is 401 ``pat_required``
   carrying a fresh ``WWW-Authenticate: PrivateToken`` challenge (the
   protocol's handshake, so no event); present, its signature is checked
   offline. A token the key does not require is still verified and, if
   valid, counted as positive evidence (an invalid one is then ignored);
2. the proof-of-work solution, offline;
3. spending: the PAT's challenge (once), then the proof-of-work nonce;
4. the CAPTCHAs required (reCAPTCHA, Turnstile, hCaptcha): spent before the
   provider is asked where gatehouse keeps the spent store (reCAPTCHA,
   hCaptcha), so a replay never reaches the provider.

Every refusal is one event (``refuse``). A key in observe mode
(``verifications_observed``) has its client failures recorded as dry-run
alerts and is let through; outages (``*_unavailable``) are never observed.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from protection.base.exceptions import ProtectionError
from protection.challenges.captcha import MAX_TOKEN_CHARS, captcha_verify, hcaptcha_token_spend
from protection.challenges.evidence import (
    ChallengeEvidence,
    ChallengeOutcome,
    evidence_required,
)
from protection.challenges.pat import (
    PatRefused,
    PatToken,
    pat_challenges_issue,
    pat_token_redeem,
    pat_token_verify,
)
from protection.challenges.pow import PowSolution, pow_solution_verify
from protection.challenges.recaptcha import MAX_TOKEN_CHARS as RECAPTCHA_MAX_CHARS
from protection.challenges.recaptcha import recaptcha_verify
from protection.challenges.replay import SpentChallenge, challenge_spend, challenge_spent
from protection.conf import gatehouse_settings
from protection.core.events import event_record, refuse
from protection.keys.models import verifications_observed

# What observe mode lets through: the client's failures, not our outages.
OBSERVABLE_CODES = frozenset(
    {
        "challenge_failed",
        "challenge_replayed",
        "recaptcha_failed",
        "captcha_failed",
        "pat_required",
        "pat_invalid",
        "pat_replayed",
    }
)
CAPTCHA_LABELS = {"turnstile": "Turnstile", "hcaptcha": "hCaptcha"}


@dataclass
class _Run:
    """One verification: who asks, and what passed so far."""

    api_key: Any
    client_ip: str | None
    now: datetime.datetime
    observed: bool
    shown: set[str] = field(default_factory=set)
    pat_issuer: str | None = None

    def deny(
        self, error: ProtectionError, *, kind: str, reason: str, details: Any = None
    ) -> ProtectionError:
        """Record the refusal (an alert in observe mode) and return the error to raise."""
        refuse(
            error,
            kind=kind,
            reason=reason,
            observe=self.observed,
            details=details,
            api_key=self.api_key,
            client_ip=self.client_ip,
        )
        return error

    def outcome(self, observed: tuple[str, ...] = ()) -> ChallengeOutcome:
        return ChallengeOutcome(frozenset(self.shown), self.pat_issuer, observed)


def challenge_verify(
    *,
    api_key: Any,
    client_ip: str | None,
    altcha_payload: str = "",
    recaptcha_token: str = "",
    evidence: ChallengeEvidence | None = None,
    required: Iterable[str] = (),
    pow_level: int = 0,
    now: datetime.datetime | None = None,
) -> ChallengeOutcome:
    """Check the evidence required at session start; raise ProtectionError if any is lacking.

    ``evidence``: what the client presented (``altcha_payload`` and
    ``recaptcha_token`` fill in its proof-of-work and reCAPTCHA fields for
    callers that pass only those). ``required``: evidence asked for on top of
    the key's required verifications, which always apply (``captcha`` is the
    key's own CAPTCHA: ``evidence_required``). ``pow_level``: the level the
    proof of work's challenge must have been issued at, at least (the
    challenge ladder's: 1 harder, 2 at the cap); a lower one is refused
    (``challenge_failed``, reason ``pow_too_easy``) before anything is spent.
    Returns what was shown and passed, a PAT the key did not require included.
    """
    evidence = evidence or ChallengeEvidence()
    if altcha_payload or recaptcha_token:
        evidence = ChallengeEvidence(
            **{
                **vars(evidence),
                "altcha": altcha_payload or evidence.altcha,
                "recaptcha_token": recaptcha_token or evidence.recaptcha_token,
            }
        )
    names = evidence_required(api_key=api_key, add=required)
    run = _Run(
        api_key=api_key,
        client_ip=client_ip,
        now=now or timezone.now(),
        observed=verifications_observed(api_key),
    )
    try:
        _verify(run, evidence, names, pow_level)
    except ProtectionError as error:
        if error.code not in OBSERVABLE_CODES or not run.observed:
            raise
        return run.outcome((error.code,))
    return run.outcome()


def _verify(run: _Run, evidence: ChallengeEvidence, names: tuple[str, ...], level: int) -> None:
    pat = _pat_check(run, evidence.private_token, required="pat" in names)
    solution = _pow_check(run, evidence.altcha) if "pow" in names else None
    if solution is not None and solution.level < level:
        error = ProtectionError(
            "challenge_failed",
            "This challenge is too easy for this client now: request a new one and solve it.",
        )
        raise run.deny(
            error,
            kind="challenge_failed",
            reason="pow_too_easy",
            details={"level": solution.level, "required_level": level},
        )
    if pat is not None:
        _pat_redeem(run, pat, required="pat" in names)
    if solution is not None:
        _pow_spend(run, solution)
    if "recaptcha" in names:
        _recaptcha_step(run, evidence.recaptcha_token)
    for provider in CAPTCHA_LABELS:
        if provider in names:
            _captcha_step(run, provider, evidence.captcha_token(provider))


# --- Private Access Tokens ---------------------------------------------------


def _pat_error(code: str) -> ProtectionError:
    """A pat_* refusal carrying fresh challenges, so the client can fetch a token and retry."""
    return ProtectionError(code, headers={"WWW-Authenticate": pat_challenges_issue()})


def _pat_check(run: _Run, token: str | None, *, required: bool) -> PatToken | None:
    if token is None:
        if not required:
            return None
        if run.observed:
            error = ProtectionError("pat_required")
            raise run.deny(error, kind="pat_failed", reason="pat_missing")
        raise _pat_error("pat_required")
    try:
        if not token:
            raise PatRefused("pat_malformed")
        return pat_token_verify(token)
    except PatRefused as refused:
        if not required:
            return None  # not asked for: not evidence, and no reason to refuse
        details = {"issuer": refused.issuer} if refused.issuer else None
        raise run.deny(
            _pat_error("pat_invalid"), kind="pat_failed", reason=refused.reason, details=details
        ) from None


def _pat_redeem(run: _Run, pat: PatToken, *, required: bool) -> None:
    digest = pat.challenge_digest.hex()
    lifetime = datetime.timedelta(seconds=int(gatehouse_settings.PAT_CHALLENGE_LIFETIME))
    details = {"issuer": pat.issuer.name}
    if pat_token_redeem(pat):
        try:
            expires_at = run.now + lifetime
            challenge_spend(
                kind=SpentChallenge.Kind.PAT, value=digest, expires_at=expires_at, now=run.now
            )
        except ProtectionError:
            pass  # the cache entry was ours to consume: the row is the audit trail only
        run.shown.add("pat")
        run.pat_issuer = pat.issuer.name
        return
    if not required:
        return
    if challenge_spent(kind=SpentChallenge.Kind.PAT, value=digest):
        raise run.deny(
            _pat_error("pat_replayed"), kind="challenge_replayed", reason="pat_replayed",
            details=details,
        )  # fmt: skip
    raise run.deny(
        _pat_error("pat_invalid"), kind="pat_failed", reason="pat_unknown_challenge",
        details=details,
    )  # fmt: skip


# --- Proof of work ---------------------------------------------------------------


def _pow_check(run: _Run, payload: str) -> PowSolution:
    try:
        return pow_solution_verify(
            payload=payload, api_key_public_id=run.api_key.public_id, now=run.now
        )
    except ProtectionError as error:
        reason = getattr(error, "reason", "pow_malformed")
        raise run.deny(error, kind="challenge_failed", reason=reason) from None


def _pow_spend(run: _Run, solution: PowSolution) -> None:
    try:
        challenge_spend(
            kind=SpentChallenge.Kind.POW,
            value=solution.nonce,
            expires_at=solution.expires_at,
            now=run.now,
        )
    except ProtectionError as error:
        raise run.deny(error, kind="challenge_replayed", reason="pow_replayed") from None
    run.shown.add("pow")


# --- CAPTCHAs ---------------------------------------------------------------------


def _recaptcha_step(run: _Run, token: str) -> None:
    if not isinstance(token, str) or not token:
        raise run.deny(
            ProtectionError("recaptcha_failed", "Send the reCAPTCHA token as recaptcha_token."),
            kind="recaptcha_failed",
            reason="recaptcha_missing",
        )
    if len(token) > RECAPTCHA_MAX_CHARS:
        error = ProtectionError("recaptcha_failed")
        raise run.deny(error, kind="recaptcha_failed", reason="recaptcha_malformed")
    lifetime = datetime.timedelta(seconds=int(gatehouse_settings.RECAPTCHA_TOKEN_LIFETIME))
    try:
        challenge_spend(
            kind=SpentChallenge.Kind.RECAPTCHA,
            value=token,
            expires_at=run.now + lifetime,
            now=run.now,
        )
    except ProtectionError as error:
        raise run.deny(error, kind="challenge_replayed", reason="recaptcha_replayed") from None
    who = {"api_key": run.api_key, "client_ip": run.client_ip}
    try:
        outcome = recaptcha_verify(token=token, api_key=run.api_key, client_ip=run.client_ip)
    except ProtectionError:
        # "alert", not "deny": Google's outage is not the client's fault
        # and must not raise its proof-of-work difficulty.
        event_record(kind="recaptcha_unavailable", decision="alert", reason="fail_closed", **who)
        raise
    if outcome.reason == "recaptcha_unavailable_fail_open":
        event_record(kind="recaptcha_unavailable", decision="alert", reason="fail_open", **who)
    elif not outcome.accepted:
        raise run.deny(
            ProtectionError("recaptcha_failed"),
            kind="recaptcha_failed",
            reason=outcome.reason,
            details=outcome.details,
        )
    run.shown.add("recaptcha")


def _captcha_step(run: _Run, provider: str, token: str) -> None:
    label = CAPTCHA_LABELS[provider]
    tagged = {"provider": provider}
    if not token:
        error = ProtectionError("captcha_failed", f"Send the {label} token as {provider}_token.")
        raise run.deny(error, kind="captcha_failed", reason=f"{provider}_missing", details=tagged)
    if len(token) > MAX_TOKEN_CHARS[provider]:
        error = ProtectionError("captcha_failed")
        raise run.deny(error, kind="captcha_failed", reason=f"{provider}_malformed", details=tagged)
    if provider == "hcaptcha" and not hcaptcha_token_spend(token):
        error = ProtectionError("challenge_replayed")
        raise run.deny(error, kind="challenge_replayed", reason="hcaptcha_replayed", details=tagged)
    who = {"api_key": run.api_key, "client_ip": run.client_ip, "details": tagged}
    try:
        outcome = captcha_verify(
            provider=provider,
            token=token,
            api_key=run.api_key,
            client_ip=run.client_ip,
            now=run.now,
        )
    except ProtectionError:
        event_record(kind="captcha_unavailable", decision="alert", reason="fail_closed", **who)
        raise
    if outcome.reason.endswith("_unavailable_fail_open"):
        event_record(kind="captcha_unavailable", decision="alert", reason="fail_open", **who)
    elif not outcome.accepted:
        raise run.deny(
            ProtectionError("captcha_failed"),
            kind="captcha_failed",
            reason=outcome.reason,
            details={**outcome.details, **tagged},
        )
    run.shown.add(provider)
