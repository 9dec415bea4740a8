"""Cloudflare Turnstile and hCaptcha, siblings of reCAPTCHA; and which CAPTCHA a key uses.

A key uses one CAPTCHA (``ApiKey.captcha``: recaptcha, turnstile or
hcaptcha, or none): ``api_key_captcha`` says which, ``captcha_site_key``
what clients render it with (None while the provider is not configured).

``captcha_verify`` asks the provider's siteverify (``TURNSTILE_VERIFY_URL``,
``HCAPTCHA_VERIFY_URL``: form-encoded ``secret``, ``response``,
``remoteip``) through ``protection.challenges.siteverify``: a total
deadline of CAPTCHA_VERIFY_TIMEOUT seconds and a breaker per provider. A
token is accepted only if ``success`` is true and the ``hostname`` is one
we serve (the hosts of the key's allowed origins, else the host of
PUBLIC_BASE_URL; neither: not checked), and:

- Turnstile: the ``action`` is the key's ``captcha_action``. Each call
  sends a fresh ``idempotency_key`` (a UUID): Cloudflare answers a repeated
  key with the first answer, so a key reused for a replayed token would
  turn the replay into a success. Cloudflare itself refuses a token seen
  twice (``timeout-or-duplicate``).
- hCaptcha (no action, no idempotency key): the ``challenge_ts`` is at most
  HCAPTCHA_TOKEN_LIFETIME seconds old, and the token is accepted once here
  too: ``hcaptcha_token_spend`` adds its keyed hash (never the token) to the
  shared cache before hCaptcha is asked, so a replay never reaches hCaptcha.
  The sitekey is sent as hCaptcha recommends.

Unavailable (unconfigured, unreachable, slow, nonsense, breaker open) is
``captcha_unavailable`` (503) unless the provider's FAIL_OPEN setting says
accept. The answer's details go to the audit log, never to the client.
"""

import datetime
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.core.cache import cache
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from protection.base import crypto
from protection.base.exceptions import ProtectionError
from protection.challenges.recaptcha import recaptcha_site_key
from protection.challenges.siteverify import SiteverifyUnavailable, siteverify_ask
from protection.conf import gatehouse_settings
from protection.core.cachehealth import shared_cache_call

logger = logging.getLogger("gatehouse.captcha")

# Turnstile tokens are at most 2,048 characters; hCaptcha's run longer.
MAX_TOKEN_CHARS = {"turnstile": 2048, "hcaptcha": 8192}
PROVIDERS = ("turnstile", "hcaptcha")
SPENT_PREFIX = "gh:captcha:spent:"


@dataclass(frozen=True)
class CaptchaOutcome:
    """What the provider said, for the audit log (never for the client)."""

    accepted: bool
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


def _setting(provider: str, name: str) -> Any:
    return getattr(gatehouse_settings, f"{provider.upper()}_{name}")


def api_key_captcha(api_key: Any) -> str | None:
    """The CAPTCHA ``api_key`` uses (recaptcha, turnstile, hcaptcha), None for none."""
    return getattr(api_key, "captcha", "") or None


def captcha_site_key(provider: str) -> str | None:
    """The public site key clients render ``provider``'s widget with (None if unset)."""
    if provider == "recaptcha":
        return recaptcha_site_key()
    if provider not in PROVIDERS:
        raise ValueError(f"Unknown CAPTCHA provider {provider!r}")
    return _setting(provider, "SITE_KEY") or None


def captcha_expected_hostnames(api_key: Any) -> set[str]:
    """Hostnames a token may have been solved on: the hosts of the key's allowed
    origins, else the host of PUBLIC_BASE_URL; empty (not checked) if neither."""
    hosts = {urlsplit(origin).hostname for origin in getattr(api_key, "allowed_origins", [])}
    hosts.discard(None)
    if not hosts and gatehouse_settings.PUBLIC_BASE_URL:
        hosts = {urlsplit(gatehouse_settings.PUBLIC_BASE_URL).hostname}
        hosts.discard(None)
    return {str(host).lower() for host in hosts}


def hcaptcha_token_spend(token: str) -> bool:
    """Remember an hCaptcha token (its keyed hash) as used; False if it already was.

    With the shared cache down the token counts as new: hCaptcha refuses a
    token it has already verified anyway, this store only spares it the call.
    """
    key = SPENT_PREFIX + "hcaptcha:" + crypto.keyed_digest(token, purpose="captcha-spent")[:40]
    lifetime = int(gatehouse_settings.HCAPTCHA_TOKEN_LIFETIME)
    return bool(shared_cache_call(lambda: cache.add(key, 1, timeout=lifetime), True))


def _form(provider: str, *, token: str, secret: str, client_ip: str | None) -> dict[str, str]:
    form = {"secret": secret, "response": token, "remoteip": client_ip or ""}
    if provider == "turnstile":
        form["idempotency_key"] = str(uuid.uuid4())
    elif _setting(provider, "SITE_KEY"):
        form["sitekey"] = _setting(provider, "SITE_KEY")
    return form


def _answer_details(data: dict[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {"hostname": str(data.get("hostname", ""))[:200]}
    error_codes = data.get("error-codes")
    if isinstance(error_codes, list) and error_codes:
        details["error_codes"] = [str(code)[:64] for code in error_codes][:5]
    return details


def _challenge_age(data: dict[str, Any], now: datetime.datetime) -> float | None:
    stamp = data.get("challenge_ts")
    solved = parse_datetime(stamp) if isinstance(stamp, str) else None
    if solved is None:
        return None
    if timezone.is_naive(solved):
        solved = timezone.make_aware(solved, datetime.UTC)
    return (now - solved).total_seconds()


def _judge(
    provider: str, data: dict[str, Any], *, api_key: Any, now: datetime.datetime
) -> CaptchaOutcome:
    details = _answer_details(data)
    if data.get("success") is not True:
        duplicate = "timeout-or-duplicate" in details.get("error_codes", [])
        why = "duplicate" if duplicate else "rejected"
        return CaptchaOutcome(False, f"{provider}_{why}", details)
    expected = captcha_expected_hostnames(api_key)
    if expected and details["hostname"].lower() not in expected:
        return CaptchaOutcome(False, f"{provider}_hostname", details)
    if provider == "turnstile":
        details["action"] = str(data.get("action") or "")[:64]
        if details["action"] != api_key.captcha_action:
            return CaptchaOutcome(False, "turnstile_action", details)
    else:
        age = _challenge_age(data, now)
        if age is not None and age > int(gatehouse_settings.HCAPTCHA_TOKEN_LIFETIME):
            details["age_seconds"] = int(age)
            return CaptchaOutcome(False, "hcaptcha_stale", details)
    return CaptchaOutcome(True, f"{provider}_ok", details)


def captcha_verify(
    *,
    provider: str,
    token: str,
    api_key: Any,
    client_ip: str | None,
    now: datetime.datetime | None = None,
) -> CaptchaOutcome:
    """Verify a Turnstile or hCaptcha ``token`` for ``api_key``; return the outcome or raise.

    Raises ``captcha_unavailable`` (503) when the provider cannot answer (or
    is not configured) and its FAIL_OPEN setting is off; a fail-open pass
    is returned as ``accepted=True`` with reason ``<provider>_unavailable_fail_open``.
    A refused token is returned as ``accepted=False`` so the caller records why.
    """
    if provider not in PROVIDERS:
        raise ValueError(f"Unknown CAPTCHA provider {provider!r}")
    now = now or timezone.now()
    secret = _setting(provider, "SECRET")
    try:
        if not secret:
            raise SiteverifyUnavailable(f"{provider.upper()}_SECRET is not set")
        data = siteverify_ask(
            provider=provider,
            url=_setting(provider, "VERIFY_URL"),
            form=_form(provider, token=token, secret=secret, client_ip=client_ip),
            deadline=float(gatehouse_settings.CAPTCHA_VERIFY_TIMEOUT),
        )
    except SiteverifyUnavailable as exc:
        logger.warning("%s siteverify unavailable: %s", provider, exc)
        if _setting(provider, "FAIL_OPEN"):
            return CaptchaOutcome(True, f"{provider}_unavailable_fail_open")
        raise ProtectionError("captcha_unavailable") from exc
    return _judge(provider, data, api_key=api_key, now=now)
