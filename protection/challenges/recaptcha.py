"""reCAPTCHA v2 / v3 verification through django-recaptcha's client.

``recaptcha_verify`` asks Google's siteverify (``django_recaptcha.client.
submit``; host RECAPTCHA_DOMAIN, timeout RECAPTCHA_VERIFY_REQUEST_TIMEOUT) and
accepts the token only if: ``success`` is true; the ``hostname`` is one we
serve (RECAPTCHA_HOSTNAMES, else the API key's allowed origins); and, for keys
set to v3, the ``action`` is the key's ``recaptcha_action`` and the ``score``
reaches the key's ``recaptcha_min_score``. The score never leaves this module
except into the audit log. Google unreachable, slow or answering nonsense is
``recaptcha_unavailable`` (503) unless RECAPTCHA_FAIL_OPEN.
"""

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django_recaptcha import client

from protection.conf import gatehouse_settings
from protection.exceptions import ProtectionError

logger = logging.getLogger("gatehouse.recaptcha")

MAX_TOKEN_CHARS = 4096  # real tokens are ~500-2,000 characters


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
        response = client.submit(token, secret, client_ip or "")
    except Exception as exc:  # URLError, timeout, bad JSON, missing "success", no secret
        logger.warning("reCAPTCHA siteverify unavailable: %s", exc.__class__.__name__)
        if gatehouse_settings.RECAPTCHA_FAIL_OPEN:
            return RecaptchaOutcome(True, "recaptcha_unavailable_fail_open")
        raise ProtectionError("recaptcha_unavailable") from exc
    data = response.extra_data
    details: dict[str, Any] = {"hostname": str(data.get("hostname", ""))[:200]}
    if response.error_codes:
        details["error_codes"] = [str(code)[:64] for code in response.error_codes][:5]
    if response.is_valid is not True:
        return RecaptchaOutcome(False, "recaptcha_rejected", details)
    expected_hosts = recaptcha_expected_hostnames(api_key)
    if expected_hosts and details["hostname"].lower() not in expected_hosts:
        return RecaptchaOutcome(False, "recaptcha_hostname", details)
    if api_key.recaptcha_version == "v3":
        score = data.get("score")
        details["action"] = str(response.action or "")[:64]
        details["score"] = score
        if response.action != api_key.recaptcha_action:
            return RecaptchaOutcome(False, "recaptcha_action", details)
        if not isinstance(score, int | float) or isinstance(score, bool):
            return RecaptchaOutcome(False, "recaptcha_no_score", details)
        if score < api_key.recaptcha_min_score:
            return RecaptchaOutcome(False, "recaptcha_low_score", details)
    return RecaptchaOutcome(True, "recaptcha_ok", details)
