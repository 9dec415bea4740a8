"""System checks of the verification settings (ids signup.E060–E063, W060–W061).

- signup.E060: ``SIGNUP_VERIFY`` is not none, email or phone.
- signup.E061: ``SMS_COUNTRIES`` is not a list of ISO 3166 alpha-2 codes.
- signup.E062: ``SMS_PREFIX_RATES`` is not a list of rates.
- signup.E063: a verification number out of range (TTL, attempts, cooldown,
  notice interval, the pumping monitor's thresholds).
- signup.W060 (deploy): phone mode without an SMS backend: no code can be sent.
- signup.W061 (deploy): email mode with a console, in-memory or dummy mail backend.
"""

from typing import Any

from django.conf import settings
from django.core import checks

from protection.conf import gatehouse_settings
from signup.conf import VERIFY_MODES, signup_settings

_TOY_MAIL_BACKENDS = ("console", "locmem", "dummy")


@checks.register()
def check_verification_settings(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from protection.core.ratelimit import rate_parse

    found: list[checks.CheckMessage] = []
    if signup_settings.SIGNUP_VERIFY not in VERIFY_MODES:
        found.append(
            checks.Error(
                f"GATEHOUSE SIGNUP_VERIFY is {signup_settings.SIGNUP_VERIFY!r}.",
                hint="One of none, email, phone (GATEHOUSE_SIGNUP_VERIFY).",
                id="signup.E060",
            )
        )
    countries = signup_settings.SMS_COUNTRIES
    if not isinstance(countries, list | tuple) or not all(
        isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha()
        for code in countries
    ):
        found.append(
            checks.Error(
                f"GATEHOUSE SMS_COUNTRIES is {countries!r}.",
                hint="A list of ISO 3166 alpha-2 codes (['US', 'CA']); empty for every country.",
                id="signup.E061",
            )
        )
    rates = signup_settings.SMS_PREFIX_RATES
    try:
        if not isinstance(rates, list | tuple):
            raise ValueError("not a list")
        for rate in rates:
            rate_parse(rate)
    except ValueError as exc:
        found.append(
            checks.Error(
                f"GATEHOUSE SMS_PREFIX_RATES: {exc}",
                hint='A list of rates like ["10/h", "50/d"].',
                id="signup.E062",
            )
        )
    found += [
        checks.Error(f"GATEHOUSE {name} is {value!r}: {why}.", id="signup.E063")
        for name, value, why in _number_problems()
    ]
    return found


def _number_problems() -> list[tuple[str, Any, str]]:
    problems = []
    for name in (
        "SIGNUP_VERIFY_CODE_TTL",
        "SIGNUP_VERIFY_MAX_ATTEMPTS",
        "SIGNUP_VERIFY_RESEND_COOLDOWN",
        "SIGNUP_VERIFY_NOTICE_INTERVAL",
        "SMS_PUMPING_MIN_SENDS",
        "SMS_PUMPING_WINDOW",
        "SMS_PUMPING_BLOCK_DURATION",
        "SMS_PUMPING_BLOCK_ESCALATION",
        "SMS_PUMPING_BLOCK_MAX_DURATION",
    ):
        value = getattr(signup_settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append((name, value, "expected a whole number of at least 1"))
    ratio = signup_settings.SMS_PUMPING_MIN_CONFIRM_RATE
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
        problems.append(("SMS_PUMPING_MIN_CONFIRM_RATE", ratio, "expected a number from 0 to 1"))
    return problems


@checks.register(checks.Tags.security, deploy=True)
def check_verification_delivery(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    mode = signup_settings.SIGNUP_VERIFY
    if mode == "phone" and not gatehouse_settings.SMS_BACKEND:
        return [
            checks.Warning(
                "SIGNUP_VERIFY is phone but no SMS backend is configured: codes are never sent.",
                hint="Set GATEHOUSE_SMS_BACKEND (twilio, file, or a sender class).",
                id="signup.W060",
            )
        ]
    backend = str(getattr(settings, "EMAIL_BACKEND", "")).lower()
    if mode == "email" and any(toy in backend for toy in _TOY_MAIL_BACKENDS):
        return [
            checks.Warning(
                f"SIGNUP_VERIFY is email but EMAIL_BACKEND is {settings.EMAIL_BACKEND}: "
                "codes never reach anyone.",
                hint="Set DJANGO_EMAIL_HOST and friends (SMTP), see the outbox guide.",
                id="signup.W061",
            )
        ]
    return []
