"""System checks of the challenge ladder's settings (registered by ``protection.checks``).

- protection.E300: ``CHALLENGE_LADDER`` is malformed (the malformed tiers ask nothing);
- protection.E301: ``CHALLENGE_RISK_WEIGHTS`` is malformed (those entries keep their default);
- protection.E302: ``CHALLENGE_RISK_THRESHOLDS`` is malformed (likewise);
- protection.W300: a tier asks for a CAPTCHA or Private Access Tokens that
  are not configured (every client of that tier would be refused with 503).

The policy file's tables are checked by their validators (protection.E100).
"""

from collections.abc import Mapping
from typing import Any

from django.core import checks
from django.core.exceptions import ValidationError

from protection.conf import gatehouse_settings, setting_default
from protection.keys.ladder import DENY, TIERS, challenge_ladder_clean
from protection.policy.risk import risk_thresholds_problems, risk_weights_problems

# What a concrete rung needs configured to work at all.
_NEEDS = {
    "turnstile": ("TURNSTILE_SECRET",),
    "hcaptcha": ("HCAPTCHA_SECRET",),
    "pat": ("PAT_ISSUERS", "PUBLIC_BASE_URL"),
}


def _problems_text(problems: Any) -> str:
    return "; ".join(
        f"{'.'.join(problem.path) + ': ' if problem.path else ''}{problem.message}"
        for problem in problems
    )


@checks.register()
def check_challenge_ladder(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    ladder = gatehouse_settings.CHALLENGE_LADDER
    cleaned: dict[str, Any] = {}
    try:
        if not isinstance(ladder, Mapping):
            raise ValidationError("it must be a dict of tier -> evidence list or 'deny'")
        cleaned = challenge_ladder_clean(ladder)
    except ValidationError as exc:
        messages.append(
            checks.Error(
                f"GATEHOUSE CHALLENGE_LADDER: {'; '.join(exc.messages)} That tier asks nothing.",
                hint='E.g. {"low": [], "elevated": ["pow_hard"], "high": ["captcha"], '
                '"critical": "deny"} (the policy file\'s [challenge_ladder] table).',
                id="protection.E300",
            )
        )
    for setting, problems, code in (
        (
            "CHALLENGE_RISK_WEIGHTS",
            risk_weights_problems(gatehouse_settings.CHALLENGE_RISK_WEIGHTS),
            "protection.E301",
        ),
        (
            "CHALLENGE_RISK_THRESHOLDS",
            risk_thresholds_problems(
                gatehouse_settings.CHALLENGE_RISK_THRESHOLDS,
                base=setting_default("CHALLENGE_RISK_THRESHOLDS"),
            ),
            "protection.E302",
        ),
    ):
        if problems:
            messages.append(
                checks.Error(
                    f"GATEHOUSE {setting}: {_problems_text(problems)}. The malformed entries "
                    "keep their defaults.",
                    hint="See docs/evidence.md (the challenge ladder) for the table's entries.",
                    id=code,
                )
            )
    for tier in TIERS:
        rungs = cleaned.get(tier, [])
        if rungs == DENY:
            continue
        for rung in rungs:
            missing = [
                name for name in _NEEDS.get(rung, ()) if not getattr(gatehouse_settings, name)
            ]
            if missing:
                messages.append(
                    checks.Warning(
                        f"GATEHOUSE CHALLENGE_LADDER asks {tier} clients for {rung}, but "
                        f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: "
                        "they would be refused with 503.",
                        hint='Configure it, or ask for "captcha" (each key\'s own CAPTCHA, proof '
                        "of work at the cap for a key without one).",
                        id="protection.W300",
                    )
                )
    return messages
