"""The challenge ladder: what a client of a given risk tier must show at session start.

``ladder_step`` turns a tier into concrete evidence for one client of one
key: the ladder's rungs for the tier (``protection.keys.ladder``: the global
``CHALLENGE_LADDER`` with the key's own tiers over it) and the network
policy's ``harder`` / ``require:<evidence>``, on top of the key's required
verifications (the floor, never lowered; everything is ANDed):

- ``pow``: proof of work; ``pow_hard``: proof of work at level 1
  (``POW_HARDER_FACTOR`` times the client's difficulty); ``captcha``: the
  key's CAPTCHA, or proof of work at level 2 (``POW_MAX_NUMBER_CAP``) for a
  key without one; ``recaptcha`` / ``turnstile`` / ``hcaptcha`` / ``pat``
  as named; ``deny``: refused (403 ``risk_too_high``).
- the network policy's ``harder`` is at least ``pow_hard``;
  ``require:<evidence>`` adds that evidence.
- a valid Private Access Token (``pat``) removes what the ladder and
  ``harder`` added and asks for the token instead (it is redeemed once);
  it never removes the floor nor a network ``require:<evidence>``. Its
  weight (``CHALLENGE_RISK_WEIGHTS["pat"]``) decides whether it lifts a
  ``deny``.
- in dry run (``dry_run`` in the ladder) the tier's rungs and its ``deny``
  are only recorded (``would_ask``), never asked; the network policy
  applies as always.

Pure apart from reading settings: the gate (``protection.http.risk``)
gathers the inputs and records what was decided.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from protection.challenges import api_key_captcha, evidence_required
from protection.challenges.evidence import CHALLENGE_VERIFICATIONS
from protection.keys.ladder import CAPTCHA, DENY, DRY_RUN, POW, POW_HARD, challenge_ladder_for
from protection.keys.network_policy import HARDER, REQUIRE, NetworkDecision

# Proof-of-work levels: the client's difficulty, POW_HARDER_FACTOR times it, the cap.
POW_NORMAL, POW_HARDER, POW_AT_CAP = 0, 1, 2


@dataclass(frozen=True)
class LadderStep:
    """What one client must show (or that it is refused), for one key.

    ``evidence``: what ``challenge_verify`` checks on top of the floor
    (concrete names); ``pow_level``: the proof of work's level
    (``POW_NORMAL``, ``POW_HARDER``, ``POW_AT_CAP``); ``checks``: other
    verifications the network policy requires (attestation, ``dpop``),
    checked against what the request showed. ``requires``: everything, as
    the client is told (the floor first). ``denied``: ``risk_too_high``.
    ``would_ask`` / ``would_pow_level`` / ``would_deny``: what a ladder in dry
    run would have done.
    ``pat_lowered``: a Private Access Token replaced the ladder's additions;
    ``pat_would_lower``: one would (the ladder or ``harder`` added something).
    """

    tier: str
    risk: int
    evidence: tuple[str, ...] = ()
    pow_level: int = POW_NORMAL
    checks: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    denied: bool = False
    dry_run: bool = False
    would_ask: tuple[str, ...] = ()
    would_pow_level: int = POW_NORMAL
    would_deny: bool = False
    pat_lowered: bool = False
    pat_would_lower: bool = False
    requires_with_pat: tuple[str, ...] = ()

    def as_details(self) -> dict[str, Any]:
        """For events: ``{"tier", "score", "asked", "pow_level"}`` and what dry run held back."""
        details: dict[str, Any] = {
            "tier": self.tier,
            "score": self.risk,
            "asked": list(self.requires),
            "pow_level": self.pow_level,
        }
        if self.pat_lowered:
            details["pat_lowered"] = True
        if self.dry_run:
            details["would_ask"] = list(self.would_ask)
            details["would_pow_level"] = self.would_pow_level
            details["would_deny"] = self.would_deny
        return details


def _resolve(api_key: Any, rungs: Iterable[str]) -> tuple[set[str], int]:
    """The concrete evidence and proof-of-work level of ladder ``rungs`` for ``api_key``."""
    names: set[str] = set()
    level = POW_NORMAL
    for rung in rungs:
        if rung in (POW, POW_HARD):
            names.add(POW)
            level = max(level, POW_HARDER if rung == POW_HARD else POW_NORMAL)
        elif rung == CAPTCHA:
            captcha = api_key_captcha(api_key)
            if captcha:
                names.add(captcha)
            else:
                names.add(POW)
                level = POW_AT_CAP
        else:
            names.add(rung)
    return names, level


def _ordered(names: Iterable[str]) -> tuple[str, ...]:
    order = {name: index for index, name in enumerate(CHALLENGE_VERIFICATIONS)}
    return tuple(sorted(set(names), key=lambda name: (order.get(name, len(order)), name)))


def ladder_step(
    *,
    api_key: Any,
    tier: str,
    risk: int,
    network: NetworkDecision,
    pat_tier: str | None = None,
    pow_tier: str | None = None,
) -> LadderStep:
    """What a client of ``tier`` (``risk``) must show for ``api_key`` under
    ``network`` (the network policy's decision).

    ``pat_tier``: the client presented a Private Access Token whose signature
    verified (redeemed later, at the evidence step), and this is its tier with
    the token's weight: the token replaces what ``tier`` added, and lifts a
    ``deny`` when ``pat_tier`` does not say deny too.

    ``pow_tier``: the tier whose rungs set the proof of work's level, when it
    is not ``tier`` (at session start: the tier of what the challenge request
    could see too, so a proof of work is never asked at a level its
    challenge could not have been issued at).
    """
    ladder = challenge_ladder_for(api_key)
    rungs = ladder.get(tier, [])
    dry_run = bool(ladder.get(DRY_RUN))
    denied = rungs == DENY
    lifted = denied and pat_tier is not None and ladder.get(pat_tier, []) != DENY
    denied = denied and not lifted
    added, level = _resolve(api_key, [] if denied or lifted else rungs)
    if pow_tier is not None and pow_tier != tier:
        pow_rungs = ladder.get(pow_tier, [])
        _names, level = _resolve(api_key, [] if pow_rungs == DENY else pow_rungs)
        if level > POW_NORMAL:
            added.add(POW)
    would_ask: tuple[str, ...] = ()
    would_level, would_deny = POW_NORMAL, False
    if dry_run:
        would_ask, would_level, would_deny = _ordered(added), level, denied
        added, level, denied = set(), POW_NORMAL, False
    network_added: set[str] = set()
    required_by_network: set[str] = set()
    if network.action == HARDER:
        network_added.add(POW)
        level = max(level, POW_HARDER)
    elif network.action == REQUIRE and network.evidence:
        required_by_network.add(network.evidence)
    floor = set(api_key.required_verifications or ())
    lowerable = bool((added | network_added) - floor) or level > POW_NORMAL or lifted
    pat_lowered = pat_tier is not None and lowerable and not denied
    if pat_lowered:
        added, network_added, level = {"pat"}, set(), POW_NORMAL
    challenge_names = (
        added
        | network_added
        | {name for name in required_by_network if name in CHALLENGE_VERIFICATIONS}
    )
    checks = _ordered(name for name in required_by_network if name not in CHALLENGE_VERIFICATIONS)
    evidence = _ordered(challenge_names)
    requires = (*evidence_required(api_key=api_key, add=evidence), *checks)
    with_pat: tuple[str, ...] = ()
    if lowerable and not pat_lowered and not denied:
        kept = {name for name in required_by_network if name in CHALLENGE_VERIFICATIONS}
        with_pat = (*evidence_required(api_key=api_key, add=_ordered({"pat", *kept})), *checks)
    return LadderStep(
        tier=tier,
        risk=risk,
        evidence=evidence,
        pow_level=level if POW in (*floor, *evidence) else POW_NORMAL,
        checks=checks,
        requires=tuple(dict.fromkeys(requires)),
        denied=denied,
        dry_run=dry_run,
        would_ask=would_ask,
        would_pow_level=would_level,
        would_deny=would_deny,
        pat_lowered=pat_lowered,
        pat_would_lower=bool(with_pat),
        requires_with_pat=tuple(dict.fromkeys(with_pat)),
    )
