"""reCAPTCHA v2 / v3 verification against Google's siteverify.

``recaptcha_verify`` asks siteverify (host RECAPTCHA_DOMAIN, django-recaptcha's
setting) through ``protection.challenges.siteverify``: a total deadline of
RECAPTCHA_VERIFY_REQUEST_TIMEOUT seconds for the whole exchange, and a
breaker that stops asking Google for a while after failures in a row.

The token is accepted only if: ``success`` is true; the ``hostname`` is one
we serve (RECAPTCHA_HOSTNAMES, else the API key's allowed origins); and, for
keys set to v3, the ``action`` is the key's ``recaptcha_action`` and the
``score`` is a finite number in [0, 1] reaching the key's
``recaptcha_min_score`` (``NaN`` compares false with everything, so it used
to pass). The score never leaves this module except into the audit log.
Google unreachable, slow or answering nonsense is ``recaptcha_unavailable``
(503) unless RECAPTCHA_FAIL_OPEN.
"""

import logging
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django_recaptcha.constants import DEFAULT_RECAPTCHA_DOMAIN

from protection.base.exceptions import ProtectionError
from protection.challenges.siteverify import SiteverifyUnavailable, siteverify_ask
from protection.conf import gatehouse_settings

logger = logging.getLogger("gatehouse.recaptcha")

MAX_TOKEN_CHARS = 4096  # real tokens are ~500-2,000 characters
PROVIDER = "recaptcha"


def recaptcha_verify_url() -> str:
    """Google's siteverify URL (always https; RECAPTCHA_DOMAIN picks the host)."""
    host = getattr(settings, "RECAPTCHA_DOMAIN", DEFAULT_RECAPTCHA_DOMAIN)
    return f"https://{host}/recaptcha/api/siteverify"


def _valid_score(score: Any) -> bool:
    return (
        isinstance(score, int | float)
        and not isinstance(score, bool)
        and math.isfinite(score)
        and 0.0 <= score <= 1.0
    )


@dataclass(frozen=True)
class RecaptchaOutcome:
    """What Google said, for the audit log (never for the client)."""

    accepted: bool
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


def recaptcha_expected_hostnames(api_key: Any) -> set[str]:
    """Hostnames a token may have been solved on, for ``api_key``."""
    configured = gatehouse_settings.RECAPTCHA_HOSTNAMES
    if configured:
        return {host.lower() for host in configured}
    hosts = set()
    for origin in api_key.allowed_origins or []:
        host = urlsplit(origin).hostname
        if host:
            hosts.add(host.lower())
    return hosts


def recaptcha_site_key() -> str | None:
    """The public site key clients render the widget with (None if unset)."""
    return getattr(settings, "RECAPTCHA_PUBLIC_KEY", "") or None


def recaptcha_verify(*, token: str, api_key: Any, client_ip: str | None) -> RecaptchaOutcome:
    """Verify ``token`` with Google; return the outcome or raise.

    Raises ``recaptcha_failed`` (403) for a missing or oversized token (no
    network call), ``recaptcha_unavailable`` (503) when Google cannot answer
    and fail-closed. A refused token is returned as ``accepted=False`` so the
    caller can record why before refusing.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise ProtectionError("recaptcha_failed")
    secret = getattr(settings, "RECAPTCHA_PRIVATE_KEY", "")
    try:
        if not secret:
            raise RuntimeError("RECAPTCHA_PRIVATE_KEY is not set")
        deadline = float(getattr(settings, "RECAPTCHA_VERIFY_REQUEST_TIMEOUT", 3))
        data = siteverify_ask(
            provider=PROVIDER,
            url=recaptcha_verify_url(),
            form={"secret": secret, "response": token, "remoteip": client_ip or ""},
            deadline=deadline,
        )
    except (SiteverifyUnavailable, RuntimeError) as exc:
        logger.warning("reCAPTCHA siteverify unavailable: %s", exc.__class__.__name__)
        if gatehouse_settings.RECAPTCHA_FAIL_OPEN:
            return RecaptchaOutcome(True, "recaptcha_unavailable_fail_open")
        raise ProtectionError("recaptcha_unavailable") from exc
    details: dict[str, Any] = {"hostname": str(data.get("hostname", ""))[:200]}
    error_codes = data.get("error-codes")
    if isinstance(error_codes, list) and error_codes:
        details["error_codes"] = [str(code)[:64] for code in error_codes][:5]
    if data.get("success") is not True:
        return RecaptchaOutcome(False, "recaptcha_rejected", details)
    expected_hosts = recaptcha_expected_hostnames(api_key)
    if expected_hosts and details["hostname"].lower() not in expected_hosts:
        return RecaptchaOutcome(False, "recaptcha_hostname", details)
    if api_key.recaptcha_version == "v3":
        score = data.get("score")
        action = data.get("action")
        details["action"] = str(action or "")[:64]
        # Kept for the audit log only when it is a number JSON can store.
        details["score"] = score if _valid_score(score) else str(score)[:32]
        if action != api_key.recaptcha_action:
            return RecaptchaOutcome(False, "recaptcha_action", details)
        if not _valid_score(score):
            return RecaptchaOutcome(False, "recaptcha_no_score", details)
        if score < api_key.recaptcha_min_score:
            return RecaptchaOutcome(False, "recaptcha_low_score", details)
    return RecaptchaOutcome(True, "recaptcha_ok", details)
