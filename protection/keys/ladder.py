"""The challenge ladder's table: the evidence each risk tier asks for, and its validation.

A ladder maps the risk tiers (``low``, ``elevated``, ``high``, ``critical``)
to a list of evidence, added at session start to the key's required
verifications (the floor: the ladder never removes any), or to ``deny``
(403 ``risk_too_high``); ``dry_run: true`` only records what it would have
asked. Evidence names (``RUNGS``): ``pow``, ``pow_hard`` (proof of work at
``POW_HARDER_FACTOR`` times the client's difficulty), ``captcha`` (the key's
own CAPTCHA; proof of work at ``POW_MAX_NUMBER_CAP`` for a key without one),
``recaptcha``, ``turnstile``, ``hcaptcha`` and ``pat``.

The global ladder is ``CHALLENGE_LADDER`` (the policy file's
``[challenge_ladder]``); a key's ``challenge_ladder`` overrides it tier by
tier (``off``: every tier empty, so its clients show the floor whatever
their risk). ``challenge_ladder_clean`` is the one validation the model, the
admin, ``create_api_key``, the system checks and the policy file use; the
policy tier (``protection.policy.ladder``) applies the ladder.
"""

import json
import logging
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from protection.conf import gatehouse_settings
from protection.policyfile import PolicyProblem

logger = logging.getLogger("gatehouse.keys")

TIERS = ("low", "elevated", "high", "critical")
DENY = "deny"
POW, POW_HARD, CAPTCHA = "pow", "pow_hard", "captcha"
RUNGS = (POW, POW_HARD, CAPTCHA, "recaptcha", "turnstile", "hcaptcha", "pat")
DRY_RUN = "dry_run"
OFF = "off"
# A key's ladder that asks nothing more of anyone ("off").
LADDER_OFF: dict[str, Any] = {tier: [] for tier in TIERS}
_CODE = "invalid_challenge_ladder"


def _invalid(message: str) -> ValidationError:
    # Not code="invalid": a ModelForm would replace the message with its JSON
    # field's own "Enter a valid JSON." for that code.
    return ValidationError(message, code=_CODE)


def _rungs(tier: str, value: Any) -> list[str] | str:
    if isinstance(value, str):
        text = value.strip().lower()
        if text == DENY:
            return DENY
        if text in ("", "none"):
            return []
        value = [part for part in text.replace("+", " ").split() if part]
    if not isinstance(value, list | tuple):
        raise _invalid(f'Tier {tier!r}: give a list of evidence or "deny", not {value!r}.')
    names = []
    for name in value:
        text = name.strip().lower() if isinstance(name, str) else ""
        if text not in RUNGS:
            raise _invalid(
                f"Tier {tier!r}: unknown evidence {name!r}: choose from {', '.join(RUNGS)} "
                f'(or "deny" instead of a list).'
            )
        names.append(text)
    return list(dict.fromkeys(names))


def _pairs(text: str) -> Mapping[str, Any]:
    stripped = text.strip()
    if stripped.lower() == OFF:
        return dict(LADDER_OFF)
    if stripped.startswith(("{", "[")):
        try:
            loaded = json.loads(stripped)
        except ValueError as exc:
            raise _invalid("The challenge ladder is not valid JSON.") from exc
        if not isinstance(loaded, dict):
            raise _invalid("The challenge ladder must be a JSON object of tier -> evidence.")
        return loaded
    pairs: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in stripped.replace("\n", ",").split(","))):
        name, equals, rungs = item.partition("=")
        if not equals:
            raise _invalid(
                "Write the challenge ladder as tier=evidence pairs "
                f"(elevated=pow_hard,high=captcha+pow,critical=deny), or off, not {item!r}."
            )
        pairs[name.strip()] = rungs.strip()
    return pairs


def challenge_ladder_clean(value: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """The canonical ladder (only the tiers given; ``dry_run`` when given) of a
    mapping, a JSON object, ``"elevated=pow_hard,high=captcha+pow,critical=deny"``
    or ``"off"``; ``ValidationError`` naming what is wrong."""
    if value is None:
        return {}
    if isinstance(value, str):
        value = _pairs(value)
    if not isinstance(value, Mapping):
        raise _invalid("The challenge ladder must be an object of tier -> evidence.")
    cleaned: dict[str, Any] = {}
    for name, rungs in value.items():
        key = name.strip().lower() if isinstance(name, str) else ""
        if key == DRY_RUN:
            if isinstance(rungs, str) and rungs.strip().lower() in ("true", "false"):
                rungs = rungs.strip().lower() == "true"
            if not isinstance(rungs, bool):
                raise _invalid("dry_run must be true or false.")
            cleaned[DRY_RUN] = rungs
            continue
        if key not in TIERS:
            raise _invalid(
                f"Unknown risk tier {name!r}: choose from {', '.join(TIERS)} (or dry_run)."
            )
        cleaned[key] = _rungs(key, rungs)
    order = (*TIERS, DRY_RUN)
    return {name: cleaned[name] for name in order if name in cleaned}


def validate_challenge_ladder(value: Any) -> None:
    """Model-field validator: ``value`` must be a valid (partial) ladder object."""
    if not isinstance(value, Mapping):
        raise _invalid("The challenge ladder must be a JSON object of tier -> evidence.")
    challenge_ladder_clean(value)


def challenge_ladder_format(ladder: Mapping[str, Any]) -> str:
    """``elevated=pow_hard,high=captcha+pow,critical=deny``: what commands and the admin show."""
    if dict(ladder) == LADDER_OFF:
        return OFF
    parts = []
    for name, rungs in ladder.items():
        if name == DRY_RUN:
            parts.append(f"{DRY_RUN}={'true' if rungs else 'false'}")
        else:
            parts.append(f"{name}={rungs if isinstance(rungs, str) else '+'.join(rungs) or 'none'}")
    return ",".join(parts)


def challenge_ladder_for(api_key: Any) -> dict[str, Any]:
    """The ladder in force for ``api_key``: ``CHALLENGE_LADDER`` with the key's own
    tiers over it. Every tier is present; a malformed global tier (system
    check protection.E300) asks nothing."""
    ladder: dict[str, Any] = {tier: [] for tier in TIERS}
    ladder[DRY_RUN] = False
    configured = gatehouse_settings.CHALLENGE_LADDER
    for name, rungs in configured.items() if isinstance(configured, Mapping) else ():
        try:
            ladder.update(challenge_ladder_clean({name: rungs}))
        except ValidationError:
            logger.warning("Ignoring malformed CHALLENGE_LADDER entry %r", name)
    own = getattr(api_key, "challenge_ladder", None)
    if isinstance(own, Mapping) and own:
        try:
            ladder.update(challenge_ladder_clean(own))
        except ValidationError:
            logger.warning("Ignoring the malformed challenge ladder of an API key")
    return ladder


def challenge_ladder_problems(value: Any, *, base: Any) -> list[PolicyProblem]:
    """The ``[challenge_ladder]`` table of a policy file: tier -> evidence or
    "deny", and ``dry_run`` (merged tier by tier over ``base``)."""
    if not isinstance(value, Mapping):
        return [PolicyProblem((), 'expected a table of tier -> evidence list or "deny"')]
    problems = []
    for name, rungs in value.items():
        try:
            challenge_ladder_clean({name: rungs})
        except ValidationError as exc:
            problems.append(PolicyProblem((str(name),), "; ".join(exc.messages)))
    return problems
