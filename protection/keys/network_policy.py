"""The network policy: what a request from each network class meets.

A policy maps a network class (``tor``, ``proxy``, ``vpn``, ``hosting``) to
an action:

- ``allow``: nothing more;
- ``harder``: the proof of work is ``POW_HARDER_FACTOR`` times harder (under
  ``POW_MAX_NUMBER_CAP``);
- ``require:<evidence>``: the session also needs that evidence (a name of
  ``VERIFICATIONS``: ``require:recaptcha``, ``require:app_check``…);
- ``deny``: 403 ``network_refused``.

The global policy is ``NETWORK_POLICY`` (the policy file's
``[network_policy]`` table); a key's ``network_policy`` overrides it class
by class (a partner's servers on a cloud may be ``hosting = "allow"``). A
class named by neither is allowed, and an unknown origin (no data, stale
data) is always allowed: the policy fails open. Network blocks are judged
before the policy (a blocked AS number is 403 ``blocked``).

``network_policy_clean`` is the one validation the admin, the commands, the
model and the system checks use.
"""

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from protection.conf import gatehouse_settings
from protection.netintel.origin import NETWORK_CLASSES, NetworkOrigin
from protection.policyfile import PolicyProblem

logger = logging.getLogger("gatehouse.keys")

ALLOW, HARDER, REQUIRE, DENY = "allow", "harder", "require", "deny"
ACTIONS = (ALLOW, HARDER, f"{REQUIRE}:<evidence>", DENY)


@dataclass(frozen=True)
class NetworkDecision:
    """What the policy says for one request; ``evidence`` only for ``require``."""

    action: str = ALLOW
    evidence: str = ""
    network_class: str = ""
    source: str = ""  # "key" (the key's own policy), "global", or "" (nothing applied)

    @property
    def refused(self) -> bool:
        return self.action == DENY

    def as_details(self) -> dict[str, Any]:
        """For an event's details: ``{"action": …, "class": …, "source": …}``."""
        action = f"{REQUIRE}:{self.evidence}" if self.action == REQUIRE else self.action
        return {"action": action, "class": self.network_class, "source": self.source}


ALLOWED = NetworkDecision()


def network_action_parse(value: Any) -> tuple[str, str]:
    """``(action, evidence)`` of an action's text, or ``ValidationError``."""
    # Imported here: the model validates its field with this module.
    from protection.keys.models import VERIFICATIONS

    text = value.strip().lower() if isinstance(value, str) else ""
    if text in (ALLOW, HARDER, DENY):
        return text, ""
    name, colon, evidence = text.partition(":")
    if name == REQUIRE and colon and evidence.strip() in VERIFICATIONS:
        return REQUIRE, evidence.strip()
    raise ValidationError(
        f"Unknown network action {value!r}: use allow, harder, deny or "
        f"require:<evidence> with evidence one of {', '.join(VERIFICATIONS)}.",
        code="invalid_network_policy",
    )


def _pairs(text: str) -> dict[str, str]:
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            loaded = json.loads(stripped)
        except ValueError as exc:
            raise ValidationError(
                "The network policy is not valid JSON.", code="invalid_network_policy"
            ) from exc
        if not isinstance(loaded, dict):
            raise ValidationError(
                "The network policy must be a JSON object.", code="invalid_network_policy"
            )
        return loaded
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in stripped.replace("\n", ",").split(","))):
        name, equals, action = item.partition("=")
        if not equals:
            raise ValidationError(
                f"Write the network policy as class=action pairs (tor=deny,hosting=harder), "
                f"not {item!r}.",
                code="invalid_network_policy",
            )
        pairs[name.strip()] = action.strip()
    return pairs


def network_policy_clean(value: Mapping[str, Any] | str | None) -> dict[str, str]:
    """The canonical ``{class: action}`` of a mapping, a JSON object or
    ``"tor=deny,hosting=harder"``; ``ValidationError`` naming what is wrong."""
    if value is None:
        return {}
    if isinstance(value, str):
        value = _pairs(value)
    if not isinstance(value, Mapping):
        # Not code="invalid": a ModelForm would replace the message with its JSON
        # field's own "Enter a valid JSON." for that code.
        raise ValidationError(
            "The network policy must be an object of class -> action.",
            code="invalid_network_policy",
        )
    cleaned: dict[str, str] = {}
    for name, action in value.items():
        network_class = name.strip().lower() if isinstance(name, str) else ""
        if network_class not in NETWORK_CLASSES:
            raise ValidationError(
                f"Unknown network class {name!r}: choose from {', '.join(NETWORK_CLASSES)}.",
                code="invalid_network_policy",
            )
        kind, evidence = network_action_parse(action)
        cleaned[network_class] = f"{kind}:{evidence}" if kind == REQUIRE else kind
    return {name: cleaned[name] for name in NETWORK_CLASSES if name in cleaned}


def validate_network_policy(value: Any) -> None:
    """Model-field validator: ``value`` must be a valid policy object."""
    if not isinstance(value, Mapping):
        raise ValidationError(
            "The network policy must be a JSON object of class -> action.",
            code="invalid_network_policy",
        )
    network_policy_clean(value)


def network_policy_format(policy: Mapping[str, str]) -> str:
    """``tor=deny,hosting=harder``: the form commands and the admin show."""
    return ",".join(f"{name}={action}" for name, action in policy.items())


def _global_action(network_class: str) -> str | None:
    policy = gatehouse_settings.NETWORK_POLICY
    action = policy.get(network_class) if isinstance(policy, Mapping) else None
    return action if isinstance(action, str) else None


def network_policy_decide(*, origin: NetworkOrigin, api_key: Any) -> NetworkDecision:
    """What ``origin``'s network class meets under ``api_key``'s policy and the global one.

    Pure apart from reading ``NETWORK_POLICY``: no query, no cache call. An
    unknown origin, or one outside every class, is allowed. A malformed
    global entry (system check protection.E120 names it) is skipped.
    """
    network_class = origin.network_class
    if origin.unknown or not network_class:
        return ALLOWED
    own = getattr(api_key, "network_policy", None)
    action = own.get(network_class) if isinstance(own, Mapping) else None
    source = "key"
    if action is None:
        action, source = _global_action(network_class), "global"
    if action is None:
        return NetworkDecision(network_class=network_class)
    try:
        kind, evidence = network_action_parse(action)
    except ValidationError:
        logger.warning("Ignoring malformed network policy entry for %s", network_class)
        return NetworkDecision(network_class=network_class)
    return NetworkDecision(
        action=kind, evidence=evidence, network_class=network_class, source=source
    )


def network_policy_pow_max_number(*, decision: NetworkDecision, max_number: int) -> int:
    """The proof-of-work difficulty ``decision`` asks for, from the client's ``max_number``.

    ``harder`` multiplies it by ``POW_HARDER_FACTOR``, never beyond
    ``POW_MAX_NUMBER_CAP`` (nor below the difficulty it started from).
    """
    if decision.action != HARDER:
        return max_number
    factor = max(1, int(gatehouse_settings.POW_HARDER_FACTOR))
    cap = int(gatehouse_settings.POW_MAX_NUMBER_CAP)
    return max(max_number, min(max_number * factor, cap))


def network_policy_problems(value: Any, *, base: Any) -> list[PolicyProblem]:
    """The ``[network_policy]`` table of a policy file: network class -> action
    (merged class by class over ``base``, the policy before the file)."""
    if not isinstance(value, Mapping):
        return [PolicyProblem((), "expected a table of network class -> action")]
    problems = []
    for name, action in value.items():
        try:
            network_policy_clean({name: action})
        except ValidationError as exc:
            problems.append(PolicyProblem((str(name),), "; ".join(exc.messages)))
    return problems
